//! One chart on the page: a `<canvas>` drawn by `cpbench_core::chart::draw`, a legend whose
//! entries toggle series, and a tooltip with the exact value under the pointer.

use crate::web;
use cpbench_core::chart::{ChartSpec, DrawOptions, Geometry, Tooltip, draw, hit_test};
use leptos::prelude::*;
use plotters::prelude::IntoDrawingArea;
use plotters_canvas::CanvasBackend;
use std::collections::BTreeSet;
use web_sys::HtmlCanvasElement;

/// Bumped whenever charts must be redrawn because their size may have changed (window
/// resized, tab shown).
#[derive(Clone, Copy)]
pub(crate) struct RedrawTick(pub(crate) RwSignal<u32>);

/// The font every chart text uses.
const FONT: &str = "sans-serif";

/// Draws `spec` on `canvas` at the canvas's displayed size times the pixel ratio; `None` when
/// the canvas is not displayed (a hidden tab).
fn paint(
    canvas: &HtmlCanvasElement,
    spec: &ChartSpec,
    hidden: &[bool],
) -> Option<Result<Geometry, String>> {
    let (css_w, css_h) = (canvas.client_width(), canvas.client_height());
    if css_w <= 0 || css_h <= 0 {
        return None;
    }
    let ratio = web::pixel_ratio();
    let (w, h) = (
        (f64::from(css_w) * ratio).round() as u32,
        (f64::from(css_h) * ratio).round() as u32,
    );
    canvas.set_width(w);
    canvas.set_height(h);
    let Some(backend) = CanvasBackend::with_canvas_object(canvas.clone()) else {
        return Some(Err("this browser gives no 2D canvas context".into()));
    };
    let root = backend.into_drawing_area();
    let opts = DrawOptions {
        hidden: hidden.to_vec(),
        title: false,
        legend: false,
        scale: ratio,
        font_family: FONT.into(),
    };
    let result = draw(&root, spec, &opts).map_err(|e| e.to_string());
    Some(result.and_then(|g| root.present().map(|()| g).map_err(|e| e.to_string())))
}

/// Where the tooltip is and what it says.
#[derive(Clone, PartialEq)]
struct TipState {
    x: f64,
    y: f64,
    flip: bool,
    tip: Tooltip,
}

/// A chart card: title, note, optional controls, the canvas, the legend.
#[component]
pub(crate) fn ChartView(
    /// A stable name for the card's element id (`chart-{key}`), independent of the spec.
    #[prop(into)]
    key: String,
    /// The chart to draw.
    #[prop(into)]
    spec: Signal<ChartSpec>,
    /// Controls shown beside the title (selects that change the spec).
    #[prop(optional)]
    children: Option<Children>,
    /// Draw with a faded look (the data is not current).
    #[prop(optional, into)]
    stale: Signal<bool>,
) -> impl IntoView {
    let canvas_ref = NodeRef::<leptos::html::Canvas>::new();
    let hidden = RwSignal::new(BTreeSet::<String>::new());
    let geometry = StoredValue::new(None::<Geometry>);
    let tip = RwSignal::new(None::<TipState>);
    let draws = RwSignal::new(0u32);
    let tick = use_context::<RedrawTick>().map(|t| t.0);

    let flags = move |s: &ChartSpec, h: &BTreeSet<String>| -> Vec<bool> {
        s.series.iter().map(|x| h.contains(&x.name)).collect()
    };

    Effect::new(move |_| {
        if let Some(t) = tick {
            t.track();
        }
        let Some(canvas) = canvas_ref.get() else {
            return;
        };
        let h = hidden.get();
        spec.with(|s| match paint(&canvas, s, &flags(s, &h)) {
            None => geometry.set_value(None),
            Some(Ok(g)) => {
                let _ = canvas.set_attribute(
                    "data-geometry",
                    &format!(
                        "{},{},{},{},{},{},{},{}",
                        g.left_px,
                        g.top_px,
                        g.right_px,
                        g.bottom_px,
                        g.x_min,
                        g.x_max,
                        g.y_min,
                        g.y_max
                    ),
                );
                geometry.set_value(Some(g));
                draws.update(|d| *d += 1);
            }
            Some(Err(e)) => {
                geometry.set_value(None);
                web_sys::console::error_1(&format!("chart {}: {e}", s.id).into());
            }
        });
        tip.set(None);
    });

    let on_pointer = move |ev: web_sys::PointerEvent| {
        let (Some(canvas), Some(g)) = (canvas_ref.get_untracked(), geometry.get_value()) else {
            return;
        };
        let rect = canvas.get_bounding_client_rect();
        if rect.width() <= 0.0 || rect.height() <= 0.0 {
            return;
        }
        let sx = f64::from(canvas.width()) / rect.width();
        let sy = f64::from(canvas.height()) / rect.height();
        let (cx, cy) = (
            f64::from(ev.client_x()) - rect.left(),
            f64::from(ev.client_y()) - rect.top(),
        );
        let found = spec.with_untracked(|s| {
            let f = hidden.with_untracked(|h| flags(s, h));
            hit_test(s, &g, &f, cx * sx, cy * sy, sx).and_then(|hit| s.describe(hit))
        });
        let next = found.map(|tip| TipState {
            x: cx,
            y: cy,
            flip: cx > rect.width() * 0.6,
            tip,
        });
        if tip.get_untracked() != next {
            tip.set(next);
        }
    };

    let title = move || spec.with(|s| s.title.clone());
    let legend = move || {
        spec.with(|s| {
            if s.series.len() < 2 {
                return Vec::new();
            }
            // The index keeps the keys distinct when two series share a name.
            s.series
                .iter()
                .enumerate()
                .map(|(i, x)| (i, x.name.clone(), x.color.hex()))
                .collect::<Vec<_>>()
        })
    };

    view! {
        <figure class="chart" id=format!("chart-{key}") class:stale=move || stale.get()>
            <header class="chart-head">
                <h3>{title}</h3>
                {children.map(|c| view! { <div class="chart-controls">{c()}</div> })}
            </header>
            <p class="note">{move || spec.with(|s| s.note.clone())}</p>
            <div class="plot">
                <canvas
                    node_ref=canvas_ref
                    role="img"
                    aria-label=title
                    data-draws=move || draws.get().to_string()
                    on:pointermove=on_pointer
                    on:pointerdown=on_pointer
                    on:pointerleave=move |_| tip.set(None)
                ></canvas>
                {move || {
                    tip.get()
                        .map(|t| {
                            view! {
                                <div
                                    class="tooltip"
                                    class:flip=t.flip
                                    role="status"
                                    style:left=format!("{}px", t.x)
                                    style:top=format!("{}px", t.y)
                                >
                                    <span class="swatch" style:background=t.tip.color.hex()></span>
                                    <span class="tip-series">{t.tip.series.clone()}</span>
                                    <span class="tip-x">{t.tip.x.clone()}</span>
                                    <strong class="tip-y">{t.tip.y.clone()}</strong>
                                </div>
                            }
                        })
                }}
            </div>
            <div class="legend">
                <For
                    each=legend
                    key=|entry| entry.clone()
                    children=move |(_, name, color)| {
                        let n = name.clone();
                        let off = Memo::new(move |_| hidden.with(|h| h.contains(&n)));
                        let toggle = name.clone();
                        view! {
                            <button
                                type="button"
                                class="legend-item"
                                class:off=move || off.get()
                                aria-pressed=move || (!off.get()).to_string()
                                title="Show or hide this series"
                                on:click=move |_| {
                                    hidden
                                        .update(|h| {
                                            if !h.remove(&toggle) {
                                                h.insert(toggle.clone());
                                            }
                                        })
                                }
                            >
                                <span class="swatch" style:background=color></span>
                                <span class="legend-name">{name}</span>
                            </button>
                        }
                    }
                />
            </div>
        </figure>
    }
}

/// A labelled `<select>` bound to a string signal.
#[component]
pub(crate) fn Select(
    /// The label text.
    label: &'static str,
    /// The select element's id.
    id: &'static str,
    /// `(value, text)` of each option.
    #[prop(into)]
    options: Signal<Vec<(String, String)>>,
    /// The chosen value.
    value: RwSignal<String>,
) -> impl IntoView {
    view! {
        <label class="select">
            <span>{label}</span>
            <select id=id on:change=move |ev| value.set(event_target_value(&ev))>
                {move || {
                    options
                        .get()
                        .into_iter()
                        .map(|(v, text)| {
                            let mine = v.clone();
                            view! {
                                <option value=v prop:selected=move || value.with(|x| *x == mine)>
                                    {text}
                                </option>
                            }
                        })
                        .collect_view()
                }}
            </select>
        </label>
    }
}
