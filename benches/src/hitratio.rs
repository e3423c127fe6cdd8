//! Hit ratios of every policy on a trace at several capacities, beside
//! Bélády's optimum: a table and a chart per trace.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::{belady, replay};

/// The name under which the optimum appears beside the policies.
pub const OPTIMUM: &str = "belady";

/// One replay's result.
#[derive(Debug, Clone, Serialize)]
pub struct Measurement {
    /// The trace's name.
    pub trace: String,
    /// The cache's maxsize.
    pub capacity: u64,
    /// The policy's key word, or [`OPTIMUM`].
    pub policy: String,
    /// Requests in the trace.
    pub requests: u64,
    /// Requests answered from the cache.
    pub hits: u64,
}

impl Measurement {
    /// Hits per request, in percent.
    pub fn percent(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            100.0 * self.hits as f64 / self.requests as f64
        }
    }
}

/// Replays `keys` through `policy` (a policy word or [`OPTIMUM`]) on the
/// memory store, through the public API.
pub fn measure(
    trace: &str,
    keys: &[i64],
    capacity: u64,
    policy: &str,
) -> Result<Measurement, String> {
    let hits = if policy == OPTIMUM {
        belady::optimal_hits(keys, capacity)
    } else {
        let rules = replay::policy(policy, "single")?;
        // A cache name per replay, so replays can run side by side.
        let label = format!("{trace}-{policy}-{capacity}");
        replay::run_memory(&label, keys, rules, capacity)?.hits
    };
    Ok(Measurement {
        trace: trace.to_owned(),
        capacity,
        policy: policy.to_owned(),
        requests: keys.len() as u64,
        hits,
    })
}

/// Results by trace, then capacity, then policy.
type ByTrace<'a> = BTreeMap<&'a str, BTreeMap<u64, BTreeMap<&'a str, &'a Measurement>>>;

fn by_trace(results: &[Measurement]) -> ByTrace<'_> {
    let mut map: ByTrace<'_> = BTreeMap::new();
    for m in results {
        map.entry(&m.trace)
            .or_default()
            .entry(m.capacity)
            .or_default()
            .insert(&m.policy, m);
    }
    map
}

/// A Markdown table per trace: a row per capacity, a column per policy
/// (hit ratio in percent), the optimum last; the best real policy of each
/// row in bold.
pub fn markdown(results: &[Measurement], policies: &[String]) -> String {
    let mut out = String::new();
    for (trace, rows) in by_trace(results) {
        let requests = rows
            .values()
            .flat_map(|r| r.values())
            .map(|m| m.requests)
            .next()
            .unwrap_or(0);
        out.push_str(&format!(
            "### {trace} ({requests} requests)\n\n| capacity |"
        ));
        for p in policies {
            out.push_str(&format!(" {p} |"));
        }
        out.push_str(&format!(" {OPTIMUM} (optimum) |\n|---:|"));
        for _ in 0..=policies.len() {
            out.push_str("---:|");
        }
        out.push('\n');
        for (capacity, cells) in rows {
            let best = policies
                .iter()
                .filter_map(|p| cells.get(p.as_str()))
                .map(|m| m.hits)
                .max();
            out.push_str(&format!("| {capacity} |"));
            for p in policies {
                match cells.get(p.as_str()) {
                    Some(m) if Some(m.hits) == best => {
                        out.push_str(&format!(" **{:.2}** |", m.percent()))
                    }
                    Some(m) => out.push_str(&format!(" {:.2} |", m.percent())),
                    None => out.push_str(" – |"),
                }
            }
            match cells.get(OPTIMUM) {
                Some(m) => out.push_str(&format!(" {:.2} |\n", m.percent())),
                None => out.push_str(" – |\n"),
            }
        }
        out.push('\n');
    }
    out
}

/// Ten strong, distinct colours (Tableau 10).
const CHART_COLORS: [plotters::style::RGBColor; 10] = [
    plotters::style::RGBColor(31, 119, 180),
    plotters::style::RGBColor(255, 127, 14),
    plotters::style::RGBColor(44, 160, 44),
    plotters::style::RGBColor(214, 39, 40),
    plotters::style::RGBColor(148, 103, 189),
    plotters::style::RGBColor(140, 86, 75),
    plotters::style::RGBColor(227, 119, 194),
    plotters::style::RGBColor(127, 127, 127),
    plotters::style::RGBColor(188, 189, 34),
    plotters::style::RGBColor(23, 190, 207),
];

/// One SVG chart per trace in `dir`: hit ratio against capacity (log
/// scale, a tick at every capacity), a line per policy (colours, dashes
/// and markers told apart) and a dashed black one for the optimum. Returns
/// the files written.
pub fn plot(
    results: &[Measurement],
    policies: &[String],
    dir: &Path,
) -> Result<Vec<String>, String> {
    use plotters::prelude::*;

    let mut written = Vec::new();
    for (trace, rows) in by_trace(results) {
        let file = format!("{trace}.svg");
        let path = dir.join(&file);
        let capacities: Vec<u64> = rows.keys().copied().collect();
        let (Some(&low), Some(&high)) = (capacities.first(), capacities.last()) else {
            continue;
        };
        let root = SVGBackend::new(&path, (720, 440)).into_drawing_area();
        let e = |e: DrawingAreaErrorKind<_>| format!("{}: {e:?}", path.display());
        root.fill(&WHITE).map_err(e)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!("{trace}: hit ratio by capacity"),
                ("sans-serif", 20),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(
                (low as f64..(high as f64).max(low as f64 + 1.0))
                    .log_scale()
                    // A tick at every measured capacity, not only at the
                    // powers of ten.
                    .with_key_points(capacities.iter().map(|&c| c as f64).collect()),
                0f64..100f64,
            )
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_labels(6)
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| format!("{y:.0}"))
            .light_line_style(WHITE)
            .x_desc("capacity (entries)")
            .y_desc("hit ratio (%)")
            .draw()
            .map_err(e)?;
        let mut lines: Vec<&str> = policies.iter().map(String::as_str).collect();
        lines.push(OPTIMUM);
        for (i, policy) in lines.iter().enumerate() {
            let points: Vec<(f64, f64)> = rows
                .iter()
                .filter_map(|(c, cells)| cells.get(policy).map(|m| (*c as f64, m.percent())))
                .collect();
            // Strong colours (no pale yellow), and every other policy dashed
            // with its own marker, so two policies with identical results
            // (lru and tlru on some traces) both stay visible.
            let color = CHART_COLORS[i % CHART_COLORS.len()];
            let style = if *policy == OPTIMUM {
                BLACK.stroke_width(2)
            } else {
                color.stroke_width(2)
            };
            let series = if *policy == OPTIMUM {
                chart
                    .draw_series(DashedLineSeries::new(points.clone(), 6, 4, style))
                    .map_err(e)?
            } else if i % 2 == 1 {
                chart
                    .draw_series(DashedLineSeries::new(points.clone(), 8, 5, style))
                    .map_err(e)?
            } else {
                chart
                    .draw_series(LineSeries::new(points.clone(), style))
                    .map_err(e)?
            };
            series
                .label(*policy)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], style));
            let marker = i % 3;
            chart
                .draw_series(points.iter().map(
                    |&p| -> DynElement<'static, SVGBackend, (f64, f64)> {
                        match marker {
                            0 => Circle::new(p, 4, style).into_dyn(),
                            1 => TriangleMarker::new(p, 5, style).into_dyn(),
                            _ => Cross::new(p, 4, style).into_dyn(),
                        }
                    },
                ))
                .map_err(e)?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperLeft)
            .draw()
            .map_err(e)?;
        root.present().map_err(e)?;
        written.push(file);
    }
    Ok(written)
}
