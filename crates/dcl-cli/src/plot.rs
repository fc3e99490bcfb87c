//! SVG plots of search curves.

use plotters::prelude::*;

use crate::{CliError, invalid};

/// Curves against queries as an SVG document: for each named series, the mean over its runs
/// (each run a value per query), with a ± one standard deviation band when it has several
/// runs. The y range leaves out the first 10 queries when there are more, so that the early
/// random queries do not squash the part worth reading.
pub fn curves(
    title: &str,
    y_label: &str,
    series: &[(String, Vec<Vec<f64>>)],
) -> Result<String, CliError> {
    let len = series
        .iter()
        .flat_map(|(_, runs)| runs.iter().map(Vec::len))
        .min()
        .unwrap_or(0);
    if len == 0 {
        return Err(invalid("nothing to plot: no query".into()));
    }
    let stats: Vec<(&str, Vec<(f64, f64)>)> = series
        .iter()
        .map(|(name, runs)| {
            let per_query = (0..len)
                .map(|q| dcl_evo::mean_std(&runs.iter().map(|c| c[q]).collect::<Vec<_>>()))
                .collect();
            (name.as_str(), per_query)
        })
        .collect();
    let start = if len > 20 { 10 } else { 0 };
    let finite = |x: &f64| x.is_finite();
    let lo = stats
        .iter()
        .flat_map(|(_, v)| v[start..].iter().map(|(m, s)| m - s))
        .filter(finite)
        .fold(f64::MAX, f64::min);
    let hi = stats
        .iter()
        .flat_map(|(_, v)| v[start..].iter().map(|(m, s)| m + s))
        .filter(finite)
        .fold(f64::MIN, f64::max);
    if lo > hi {
        return Err(invalid("nothing to plot: no finite value".into()));
    }
    let pad = 0.05 * (hi - lo).max(0.01);
    let draw = |e: &dyn std::fmt::Display| invalid(format!("drawing the plot: {e}"));
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (720, 480)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| draw(&e))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(1f64..(len as f64).max(2.0), lo - pad..hi + pad)
            .map_err(|e| draw(&e))?;
        chart
            .configure_mesh()
            .x_desc("queries")
            .y_desc(y_label)
            .draw()
            .map_err(|e| draw(&e))?;
        let palette = [
            RGBColor(200, 50, 50),
            RGBColor(40, 90, 200),
            RGBColor(30, 150, 60),
            RGBColor(150, 50, 150),
        ];
        for (i, (name, v)) in stats.iter().enumerate() {
            let c = palette[i % palette.len()];
            if series[i].1.len() > 1 {
                chart
                    .draw_series(std::iter::once(Polygon::new(
                        (start..len)
                            .map(|q| ((q + 1) as f64, v[q].0 + v[q].1))
                            .chain(
                                (start..len)
                                    .rev()
                                    .map(|q| ((q + 1) as f64, v[q].0 - v[q].1)),
                            )
                            .collect::<Vec<_>>(),
                        c.mix(0.15),
                    )))
                    .map_err(|e| draw(&e))?;
            }
            chart
                .draw_series(LineSeries::new(
                    (start..len).map(|q| ((q + 1) as f64, v[q].0)),
                    c.stroke_width(2),
                ))
                .map_err(|e| draw(&e))?
                .label(*name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .border_style(BLACK)
            .background_style(WHITE.mix(0.9))
            .position(SeriesLabelPosition::LowerRight)
            .draw()
            .map_err(|e| draw(&e))?;
        root.present().map_err(|e| draw(&e))?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plot_names_its_series_and_refuses_nothing_to_draw() {
        let runs = vec![vec![1.0, 2.0, 3.0], vec![1.5, 2.5, 2.5]];
        let svg = curves(
            "t",
            "y",
            &[("alpha".into(), runs), ("beta".into(), vec![vec![0.5; 3]])],
        )
        .unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("alpha") && svg.contains("beta"));
        assert!(curves("t", "y", &[("a".into(), vec![vec![]])]).is_err());
        assert!(curves("t", "y", &[]).is_err());
        assert!(curves("t", "y", &[("a".into(), vec![vec![f64::NAN; 3]])]).is_err());
    }
}
