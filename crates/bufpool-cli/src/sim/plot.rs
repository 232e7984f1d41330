//! Miss-ratio curves as SVG: miss ratio against cache size (log scale), one line per policy.
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

/// Writes the curves to `path` as an SVG chart titled `title`.
pub fn write_svg(path: &Path, title: &str, curves: &[Curve]) -> anyhow::Result<()> {
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
    let y_max = curves
        .iter()
        .flat_map(|c| c.points.iter().map(|p| p.1 * 100.0))
        .fold(0.0f64, f64::max);
    let y_max = if y_max <= 0.0 { 1.0 } else { (y_max * 1.05).min(100.0) };

    // Tick marks at the simulated sizes: a log axis's own ticks are powers of ten, too few over a short range.
    let mut ticks: Vec<f64> = curves
        .iter()
        .flat_map(|c| c.points.iter().map(|p| p.0 as f64))
        .collect();
    ticks.sort_by(f64::total_cmp);
    ticks.dedup();

    let root = SVGBackend::new(path, (900, 600)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d(
            (x_min as f64..x_max as f64).log_scale().with_key_points(ticks),
            0.0..y_max,
        )?;
    chart
        .configure_mesh()
        .x_desc("cache size (pages, log scale)")
        .y_desc("miss ratio (%)")
        .x_label_formatter(&|x| format!("{}", x.round() as u64))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .draw()?;

    let mut colour = COLOURS.iter().cycle();
    for c in curves {
        let pts: Vec<(f64, f64)> = c.points.iter().map(|&(x, y)| (x as f64, y * 100.0)).collect();
        if c.name == "opt" {
            let style = BLACK.stroke_width(2);
            chart
                .draw_series(DashedLineSeries::new(pts.clone(), 8, 5, style))?
                .label("opt")
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
        } else {
            let col = *colour.next().expect("cycle never ends");
            let style = col.stroke_width(2);
            chart
                .draw_series(LineSeries::new(pts.clone(), style))?
                .label(c.name.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
            chart.draw_series(pts.iter().map(|&p| Circle::new(p, 3, col.filled())))?;
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
