use sage_cp_bench::cli::Cli;
use sage_cp_bench::commands::{UsageError, run};

fn main() {
    let cli = Cli::try_parse_args(std::env::args_os()).unwrap_or_else(|e| e.exit());
    if let Err(e) = sage_cp_bench::logging::init(&cli.log) {
        eprintln!("Error: {e}");
        std::process::exit(2);
    }
    match run(cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("Error: {e:#}");
            let code = if e.downcast_ref::<UsageError>().is_some() {
                2
            } else {
                1
            };
            std::process::exit(code);
        }
    }
}
