//! One shard of a sharded invocation (`--shard I/N`): its phases on the shared timeline.
//!
//! Every phase (each step: a policy, a rate, a trial) has a fixed slot
//! ([`cpbench_core::timeline`]) that every shard computes alike from `--start-at`, the
//! schedules' lengths and `--phase-gap`. At the start of each phase's gap, shard 0 switches
//! the policy and resets the control plane (as an unsharded run does before each policy);
//! every shard then polls `GET /admin/policy` until it names the phase's policy or the slot
//! starts. A shard that did not see the policy does not send the phase: it is recorded as
//! failed, never measured under the wrong policy. The phase's requests are due at their
//! offsets from the slot's start, on the shared timeline: a shard ready late sends its
//! overdue requests at once (their lateness recorded), never shifting its schedule.
//!
//! The result names the full workload, the configuration's hash and the shard, its clock
//! (kernel state and a check against the control plane's `GET /admin/time`), each phase as
//! it ran, and the mergeable state of each run, for `merge` ([`crate::commands`]).

pub mod merge;

use crate::clock;
use crate::control::{ControlPlane, SwitchMode};
use crate::plan::shard::{ShardPlan, now_unix_ms};
use crate::runner::{
    self, BenchOptions, PREOPEN_CONNECTIONS, READY_TIMEOUT, Step, Target, client_for, file_stamp,
    sanitize, say,
};
use crate::sender::Cancel;
use anyhow::{Result, bail};
use cpbench_core::metrics::{AccumulatorState, RunAggregates};
use cpbench_core::report::{
    ClockCheck, ClockState, PhaseRecord, PolicyRun, PolicySwitch, Report, ShardInfo, TimelineInfo,
    config_hash,
};
use cpbench_core::timeline::PhaseSlot;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How often a shard asks `GET /admin/policy` while it waits for a phase's policy.
const CONFIRM_POLL: Duration = Duration::from_millis(100);

/// What a shard gathers while it runs, written into the report's `shard` section.
#[derive(Default)]
struct Gathered {
    phases: Vec<PhaseRecord>,
    states: Vec<Option<AccumulatorState>>,
    clock: ClockState,
    check: ClockCheck,
}

/// Runs `steps` as shard `plan` on the shared timeline against `base_url`, pushing each
/// phase's run into `report` and the shard section at the end (also after a failure).
pub async fn run_phases(
    opts: &BenchOptions,
    plan: &ShardPlan,
    base_url: &str,
    steps: Vec<Step>,
    cancel: &Cancel,
    report: &mut Report,
) -> Result<()> {
    let (start, shared) = match plan.start_at_ms {
        Some(s) => (s, true),
        None => (
            (now_unix_ms() + crate::plan::defaults::SHARD_LEAD_MS)
                .saturating_sub(plan.phase_gap_ms),
            false,
        ),
    };
    let slots = plan.slots(start);
    let mut got = Gathered::default();
    let result = phases(
        opts, plan, base_url, &steps, &slots, cancel, report, &mut got,
    )
    .await;
    report.workload_hash = plan.workload_hash.clone();
    report.workload_requests = plan.workload_requests;
    report.shard = Some(ShardInfo {
        index: plan.index,
        count: plan.count,
        workload_hash: plan.workload_hash.clone(),
        config_hash: config_hash(&report.config),
        shard_requests: steps
            .first()
            .map_or(0, |s| s.workload.requests.len() as u64),
        timeline: TimelineInfo {
            start_unix_ms: start,
            shared,
            phase_gap_ms: plan.phase_gap_ms,
            slots,
        },
        phases: got.phases,
        clock: got.clock,
        clock_check: got.check,
        accumulators: got.states,
    });
    result
}

#[allow(clippy::too_many_arguments)]
async fn phases(
    opts: &BenchOptions,
    plan: &ShardPlan,
    base_url: &str,
    steps: &[Step],
    slots: &[PhaseSlot],
    cancel: &Cancel,
    report: &mut Report,
    got: &mut Gathered,
) -> Result<()> {
    if matches!(opts.switch, SwitchMode::Launch(_)) {
        bail!("--shard cannot be used with --launch: the shards share one control plane");
    }
    let Some(first) = steps.first() else {
        bail!("nothing to run: no policies");
    };
    let probe = client_for(opts, base_url, &first.config)?;
    let cp = ControlPlane::new(probe.http().clone(), probe.base_url())
        .with_admin_token(opts.admin_token.clone());
    cp.wait_ready(&opts.health, READY_TIMEOUT).await?;
    got.clock = clock::kernel_state();
    got.check = clock::check_against(&cp).await;
    let said = clock::describe(&got.clock, &got.check);
    say(
        opts.quiet,
        format!("shard {}/{}: {said}", plan.index, plan.count),
    );
    report
        .environment
        .notes
        .push(format!("shard {}/{}: {said}", plan.index, plan.count));
    // Shard 0 switches the policy; with the embedded control plane each shard has its own.
    let switcher = plan.index == 0 || matches!(opts.target, Target::Embedded(_));
    let total = steps.len();
    for (i, (step, slot)) in steps.iter().zip(slots).enumerate() {
        if cancel.stop.is_cancelled() {
            break;
        }
        say(
            opts.quiet,
            format!(
                "[{}/{total}] {} (shard {}/{})",
                i + 1,
                step.label(),
                plan.index,
                plan.count
            ),
        );
        let client = client_for(opts, base_url, &step.config)?;
        let cp = ControlPlane::new(client.http().clone(), client.base_url())
            .with_admin_token(opts.admin_token.clone());
        let mut notes = Vec::new();
        wait_until(slot.switch_at_ms, cancel).await;
        if switcher && opts.switch == SwitchMode::Admin {
            let v = cp.set_policy(&step.policy).await?;
            notes.push(format!(
                "shard 0 set policy {:?} with POST /admin/set_policy at the start of the phase's gap, confirmed by {}",
                step.policy, v.confirmed_by
            ));
            let how = cp.prepare_run(i == 0, opts.drain).await;
            notes.push(format!("before the phase (shard 0): {how}"));
            for reset in &opts.reset_urls {
                let status = crate::control::reset::call(client.http(), reset).await?;
                notes.push(format!(
                    "before the phase (shard 0): POST {reset} (--reset-url) answered {status}"
                ));
            }
        }
        let (switch, confirmed) = match opts.switch {
            SwitchMode::Admin => (
                PolicySwitch::Verified,
                confirm(&cp, &step.policy, slot.start_ms, cancel).await,
            ),
            _ => (PolicySwitch::NotSwitched, true),
        };
        client
            .preopen(opts.max_connections.min(PREOPEN_CONNECTIONS))
            .await;
        let (t0, late_ms) = slot_instant(slot.start_ms);
        let mut record = PhaseRecord {
            slot: *slot,
            policy: step.policy.clone(),
            policy_confirmed: confirmed && opts.switch == SwitchMode::Admin,
            start_lateness_ms: late_ms,
            failed: None,
        };
        if !confirmed {
            let why = format!(
                "GET /admin/policy did not name policy {:?} before the phase's slot started: the phase was not sent (not measured under another policy)",
                step.policy
            );
            say(opts.quiet, format!("  warning: phase failed: {why}"));
            let mut run = PolicyRun::from_aggregates(
                step.policy.clone(),
                switch,
                step.params.clone(),
                RunAggregates::default(),
            );
            run.partial = true;
            run.warnings
                .push(format!("phase failed on shard {}: {why}", plan.index));
            report.runs.push(run);
            record.failed = Some(why);
            got.phases.push(record);
            got.states.push(None);
            continue;
        }
        if switch == PolicySwitch::Verified {
            notes.push(format!(
                "policy {:?} confirmed by GET /admin/policy before the phase's slot",
                step.policy
            ));
        }
        if late_ms > 0.0 {
            notes.push(format!(
                "this shard was ready {late_ms:.1} ms after the phase's slot started; its schedule was not shifted (the overdue requests went out at once, their lateness recorded)"
            ));
        }
        let mut send_opts = runner::send_options(opts, step);
        send_opts.t0 = Some(t0);
        let tag = format!("{}-{}", sanitize(&step.policy), file_stamp());
        let (mut run, state) = runner::measure(
            opts, &client, &cp, step, switch, cancel, notes, &send_opts, tag,
        )
        .await?;
        if switch == PolicySwitch::NotSwitched {
            run.warnings.push(format!(
                "the policy was not switched (--policy-switch none): these numbers are for whatever policy the control plane ran, labelled {:?}",
                step.policy
            ));
        }
        for w in &run.warnings {
            say(opts.quiet, format!("  warning: {w}"));
        }
        report.runs.push(run);
        got.phases.push(record);
        got.states.push(Some(state));
    }
    Ok(())
}

/// Polls `GET /admin/policy` until it names `policy` (true) or the slot starts at
/// `start_ms` (false); a stop request ends the wait (false).
async fn confirm(cp: &ControlPlane, policy: &str, start_ms: u64, cancel: &Cancel) -> bool {
    loop {
        if cp.active_policy().await.as_deref() == Some(policy) {
            return true;
        }
        let now = now_unix_ms();
        if now >= start_ms || cancel.stop.is_cancelled() {
            return false;
        }
        let wait = CONFIRM_POLL.min(Duration::from_millis(start_ms - now));
        tokio::time::sleep(wait).await;
    }
}

/// Waits until the wall clock reaches `at_ms` (unix ms), or a stop request.
async fn wait_until(at_ms: u64, cancel: &Cancel) {
    let now = now_unix_ms();
    if now >= at_ms {
        return;
    }
    tokio::select! {
        () = tokio::time::sleep(Duration::from_millis(at_ms - now)) => {}
        () = cancel.stop.cancelled() => {}
    }
}

/// The monotonic instant of the wall-clock time `at_ms` (unix ms), and how late now is for
/// it, ms (0 when it is ahead).
fn slot_instant(at_ms: u64) -> (Instant, f64) {
    let now_i = Instant::now();
    let now_us = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i128)
        .unwrap_or(0);
    let ahead_us = i128::from(at_ms) * 1000 - now_us;
    if ahead_us >= 0 {
        let d = Duration::from_micros(u64::try_from(ahead_us).unwrap_or(u64::MAX));
        (now_i + d, 0.0)
    } else {
        let d = Duration::from_micros(u64::try_from(-ahead_us).unwrap_or(u64::MAX));
        (
            now_i.checked_sub(d).unwrap_or(now_i),
            -ahead_us as f64 / 1000.0,
        )
    }
}
