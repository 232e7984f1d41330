//! Miss-ratio curves as SVG: miss ratio against cache size (log scale), one line per policy; below them, when
//! the adaptive policy ran, which candidate it chose over the trace, one step line per asked cache size.
//!
//! Drawn with plotters' SVG backend and no font feature: text goes into the SVG as `<text>` elements that the
//! viewer renders, and plotters only estimates label widths for layout. So nothing here needs fontconfig,
//! freetype or any font file: the build is pure Rust on any machine.

use std::path::Path;

use plotters::prelude::*;

/// One policy's curve: `(cache pages, miss ratio in 0..=1)` points, in increasing cache size.
pub struct Curve {
    /// The policy's name (the legend).
    pub name: String,
    /// The points.
    pub points: Vec<(u64, f64)>,
}

/// Which candidate the adaptive policy ran over the trace, at one cache size.
pub struct Timeline {
    /// The legend (the cache size).
    pub name: String,
    /// Requests in the trace (the x axis' end).
    pub requests: u64,
    /// `(first request, candidate index)` per choice, in request order; each holds until the next.
    pub steps: Vec<(u64, usize)>,
    /// The candidates' names, by index (the y axis' labels).
    pub labels: Vec<String>,
}

/// Height of the timeline panel added below the curves when there are timelines.
pub const TIMELINE_HEIGHT: u32 = 220;

/// Series colours, distinct enough side by side; `opt` is drawn dashed black apart from these.
const COLOURS: &[RGBColor] = &[
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(0, 0, 128),
    RGBColor(128, 128, 0),
];

/// Size of the SVG, and the width of the legend column to the right of the plot: the legend sits outside the
/// plot area, so it never covers the curves' right end, where the policies differ most.
pub const SVG_SIZE: (u32, u32) = (1000, 600);
/// Width of the legend column (the plot gets the rest).
pub const LEGEND_WIDTH: u32 = 170;

/// The y axis range in percent: the data's range padded by 5% of it on each side, rounded out to multiples of 5,
/// within 0..=100. A curve spanning 45-98% is drawn over 40-100, not squeezed into the top half of 0-100.
pub fn y_range_percent(curves: &[Curve]) -> (f64, f64) {
    let ys = || curves.iter().flat_map(|c| c.points.iter().map(|p| p.1 * 100.0));
    let lo = ys().fold(f64::INFINITY, f64::min);
    let hi = ys().fold(f64::NEG_INFINITY, f64::max);
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 100.0);
    }
    let pad = ((hi - lo) * 0.05).max(0.5);
    let lo = (((lo - pad) / 5.0).floor() * 5.0).max(0.0);
    let hi = (((hi + pad) / 5.0).ceil() * 5.0).min(100.0);
    if hi > lo {
        (lo, hi)
    } else {
        (0.0, 100.0)
    }
}

/// Writes the curves (and, below them, the timelines if any) to `path` as an SVG chart titled `title`.
pub fn write_svg(path: &Path, title: &str, curves: &[Curve], timelines: &[Timeline]) -> anyhow::Result<()> {
    let x_min = curves
        .iter()
        .flat_map(|c| c.points.iter().map(|p| p.0))
        .min()
        .unwrap_or(1)
        .max(1);
    let x_max = curves
        .iter()
        .flat_map(|c| c.points.iter().map(|p| p.0))
        .max()
        .unwrap_or(1)
        .max(x_min + 1);
    let (y_min, y_max) = y_range_percent(curves);

    // Tick marks at the simulated sizes: a log axis's own ticks are powers of ten, too few over a short range.
    let mut ticks: Vec<f64> = curves
        .iter()
        .flat_map(|c| c.points.iter().map(|p| p.0 as f64))
        .collect();
    ticks.sort_by(f64::total_cmp);
    ticks.dedup();

    let height = SVG_SIZE.1 + if timelines.is_empty() { 0 } else { TIMELINE_HEIGHT };
    let root = SVGBackend::new(path, (SVG_SIZE.0, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let (curves_area, timeline_area) = root.split_vertically(SVG_SIZE.1);
    let (plot_area, legend_area) = curves_area.split_horizontally(SVG_SIZE.0 - LEGEND_WIDTH);
    let mut chart = ChartBuilder::on(&plot_area)
        .caption(title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d(
            (x_min as f64..x_max as f64).log_scale().with_key_points(ticks),
            y_min..y_max,
        )?;
    chart
        .configure_mesh()
        .x_desc("cache size (pages, log scale)")
        .y_desc("miss ratio (%)")
        .x_label_formatter(&|x| format!("{}", x.round() as u64))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .draw()?;

    // The legend: one row per curve in the column right of the plot, top-aligned with the plot area.
    let row = |i: usize| 60 + 22 * i as i32;
    let mut colour = COLOURS.iter().cycle();
    for (i, c) in curves.iter().enumerate() {
        let pts: Vec<(f64, f64)> = c.points.iter().map(|&(x, y)| (x as f64, y * 100.0)).collect();
        let style = if c.name == "opt" {
            let style = BLACK.stroke_width(2);
            chart.draw_series(DashedLineSeries::new(pts.clone(), 8, 5, style))?;
            style
        } else {
            let col = *colour.next().expect("cycle never ends");
            let style = col.stroke_width(2);
            chart.draw_series(LineSeries::new(pts.clone(), style))?;
            chart.draw_series(pts.iter().map(|&p| Circle::new(p, 3, col.filled())))?;
            style
        };
        let y = row(i);
        legend_area.draw(&PathElement::new(vec![(8, y), (36, y)], style))?;
        legend_area.draw(&Text::new(c.name.clone(), (44, y - 7), ("sans-serif", 14)))?;
    }
    if !timelines.is_empty() {
        draw_timelines(&timeline_area, timelines)?;
    }
    root.present()?;
    Ok(())
}

/// The adaptive policy's choices: x is the request (share of the trace), y the candidate; the lines of
/// different cache sizes are offset a little so that equal choices stay visible.
fn draw_timelines<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    timelines: &[Timeline],
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let labels = timelines[0].labels.clone();
    let (plot_area, legend_area) = area.split_horizontally(SVG_SIZE.0 - LEGEND_WIDTH);
    let top = labels.len().max(1) as f64 - 0.5;
    let mut chart = ChartBuilder::on(&plot_area)
        .caption("adaptive: candidate chosen over the trace", ("sans-serif", 16))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(96)
        .build_cartesian_2d(0.0..100.0, -0.5..top)?;
    chart
        .configure_mesh()
        .x_desc("request (% of the trace)")
        .y_labels(labels.len().max(1) * 2 + 1)
        .y_label_formatter(&|y| {
            let i = y.round();
            if (y - i).abs() < 1e-6 && i >= 0.0 {
                labels.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .x_label_formatter(&|x| format!("{x:.0}"))
        .draw()?;
    let mut colour = COLOURS.iter().rev().cycle();
    let m = timelines.len() as f64;
    for (j, t) in timelines.iter().enumerate() {
        let col = *colour.next().expect("cycle never ends");
        let offset = 0.08 * (j as f64 - (m - 1.0) / 2.0);
        let at = |r: u64| 100.0 * r as f64 / t.requests.max(1) as f64;
        let mut pts = Vec::new();
        for (i, &(from, c)) in t.steps.iter().enumerate() {
            let to = t.steps.get(i + 1).map_or(t.requests, |s| s.0);
            let y = c as f64 + offset;
            pts.push((at(from), y));
            pts.push((at(to), y));
        }
        chart.draw_series(LineSeries::new(pts, col.stroke_width(2)))?;
        let y = 60 + 22 * j as i32;
        legend_area.draw(&PathElement::new(vec![(8, y), (36, y)], col.stroke_width(2)))?;
        legend_area.draw(&Text::new(t.name.clone(), (44, y - 7), ("sans-serif", 14)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `(x, y, content)` of every `<text>` element of an SVG written by plotters.
    fn texts(svg: &str) -> Vec<(f64, f64, String)> {
        let attr = |tag: &str, name: &str| -> f64 {
            let at = tag.find(&format!(" {name}=\"")).expect("attribute") + name.len() + 3;
            tag[at..at + tag[at..].find('"').unwrap()].parse().unwrap()
        };
        svg.split("<text")
            .skip(1)
            .map(|t| {
                let (tag, rest) = t.split_once('>').unwrap();
                let content = rest.split("</text>").next().unwrap().trim().to_string();
                (attr(tag, "x"), attr(tag, "y"), content)
            })
            .collect()
    }

    fn curves() -> Vec<Curve> {
        // Miss ratios from 98% down to 45%, as a real trace's curves span.
        let pts = |f: f64| {
            [8u64, 32, 128, 512]
                .iter()
                .enumerate()
                .map(|(i, &x)| (x, 0.98 - f * i as f64))
                .collect()
        };
        vec![
            Curve {
                name: "lru".into(),
                points: pts(0.15),
            },
            Curve {
                name: "s3-fifo".into(),
                points: pts(0.17),
            },
            Curve {
                name: "opt".into(),
                points: pts(0.1766),
            },
        ]
    }

    #[test]
    fn y_axis_fits_the_data() {
        assert_eq!(y_range_percent(&curves()), (40.0, 100.0));
        let flat = vec![Curve {
            name: "x".into(),
            points: vec![(1, 0.0), (2, 0.0)],
        }];
        assert_eq!(y_range_percent(&flat), (0.0, 5.0));
        assert_eq!(y_range_percent(&[]), (0.0, 100.0));
    }

    /// On the SVG itself: the y labels run from 40 to 100 (not from 0), and every legend entry is right of the
    /// plot area, where no curve is drawn.
    #[test]
    fn svg_axis_range_and_legend_outside_the_plot() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.svg");
        write_svg(&path, "test", &curves(), &[]).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        let texts = texts(&svg);
        let plot_right = f64::from(SVG_SIZE.0 - LEGEND_WIDTH);

        // Y labels: the numeric labels left of the plot's first x tick, one per y grid line.
        let x_label_ys: Vec<f64> = texts.iter().filter(|t| t.2 == "8").map(|t| t.1).collect();
        let y_labels: Vec<f64> = texts
            .iter()
            .filter(|t| !x_label_ys.contains(&t.1))
            .filter_map(|t| t.2.parse::<f64>().ok())
            .collect();
        assert!(!y_labels.is_empty(), "no y labels in {texts:?}");
        let lo = y_labels.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = y_labels.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        assert!(
            (40.0..=45.0).contains(&lo) && (95.0..=100.0).contains(&hi),
            "y labels {y_labels:?}"
        );

        for name in ["lru", "s3-fifo", "opt"] {
            let entry = texts
                .iter()
                .find(|t| t.2 == name)
                .unwrap_or_else(|| panic!("no legend entry {name}"));
            assert!(
                entry.0 > plot_right,
                "legend entry {name} at x={} is inside the plot",
                entry.0
            );
        }
        // And the curves stay left of the legend column: every polyline is either a curve (all left of it) or a
        // legend swatch (all inside it), and there are as many swatches as curves.
        let mut swatches = 0;
        for line in svg.split("<polyline").skip(1) {
            let points = line.split("points=\"").nth(1).unwrap().split('"').next().unwrap();
            let xs: Vec<f64> = points
                .split_whitespace()
                .map(|p| p.split(',').next().unwrap().parse().unwrap())
                .collect();
            let inside = xs.iter().filter(|&&x| x >= plot_right).count();
            assert!(
                inside == 0 || inside == xs.len(),
                "a line crosses into the legend column: {xs:?}"
            );
            swatches += usize::from(inside > 0);
        }
        assert_eq!(swatches, 3);
    }

    /// With timelines the SVG grows by the timeline panel, which labels its rows with the candidates and lists
    /// each timeline in its legend.
    #[test]
    fn timelines_add_a_panel_with_candidate_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.svg");
        let labels = vec!["s3-fifo".to_string(), "w-tinylfu".to_string()];
        let timelines = [
            Timeline {
                name: "12 pages".into(),
                requests: 1000,
                steps: vec![(0, 0), (400, 1)],
                labels: labels.clone(),
            },
            Timeline {
                name: "122 pages".into(),
                requests: 1000,
                steps: vec![(0, 0)],
                labels,
            },
        ];
        write_svg(&path, "test", &curves(), &timelines).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        let height = SVG_SIZE.1 + TIMELINE_HEIGHT;
        assert!(svg.contains(&format!("height=\"{height}\"")), "{}", &svg[..200]);
        let texts = texts(&svg);
        for want in ["s3-fifo", "w-tinylfu", "12 pages", "122 pages"] {
            let below = texts.iter().any(|t| t.2 == want && t.1 > f64::from(SVG_SIZE.1));
            assert!(below, "no {want} in the timeline panel: {texts:?}");
        }
    }
}
