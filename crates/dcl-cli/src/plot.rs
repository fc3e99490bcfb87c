//! SVG plots of search curves and Pareto fronts.

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

/// Pareto fronts of accuracy (y) against a cost (x, log scale) as an SVG document: a
/// reference front (`whole`, the whole table's, named `whole_label`) in black, each named
/// series' front in colour (markers joined by the staircase
/// the front dominates), and, when given, the median accuracy and median cost (the
/// hypervolume's reference point) as grey lines. Points are `(accuracy, cost)`; with medians
/// the y range starts a little below the median accuracy, so fronts below it (which add no
/// hypervolume) are cut off.
pub fn fronts(
    title: &str,
    cost_label: &str,
    (whole_label, whole): (&str, &[(f64, f64)]),
    medians: Option<(f64, f64)>,
    series: &[(String, Vec<(f64, f64)>)],
) -> Result<String, CliError> {
    let all = || {
        whole
            .iter()
            .chain(series.iter().flat_map(|(_, p)| p.iter()))
    };
    let finite = all().all(|(a, c)| a.is_finite() && c.is_finite() && *c > 0.0);
    if whole.is_empty() || !finite {
        return Err(invalid(
            "nothing to plot: an empty front or a cost that is not positive".into(),
        ));
    }
    let top = all().map(|p| p.0).fold(f64::MIN, f64::max);
    let bottom = match medians {
        Some((accuracy, _)) => accuracy - 0.25 * (top - accuracy).max(0.1),
        None => {
            let low = all().map(|p| p.0).fold(f64::MAX, f64::min);
            low - 0.05 * (top - low).max(0.1)
        }
    };
    let (lo, hi) = all()
        .map(|p| p.1)
        .fold((f64::MAX, f64::MIN), |(l, h), c| (l.min(c), h.max(c)));
    let pad = 0.02 * (top - bottom);
    let draw = |e: &dyn std::fmt::Display| invalid(format!("drawing the plot: {e}"));
    let in_view = |p: &(f64, f64)| p.0 >= bottom;
    // The x axis is log10 of the cost on a linear coordinate, labelled with the cost itself:
    // plotters' own log axis puts no label on a range narrower than a decade.
    let (x0, x1) = ((lo * 0.9).log10(), (hi * 1.1).log10());
    let staircase = |front: &[(f64, f64)]| -> Vec<(f64, f64)> {
        let mut visible: Vec<(f64, f64)> = front.iter().copied().filter(in_view).collect();
        visible.sort_by(|p, q| p.1.total_cmp(&q.1));
        let mut path = Vec::new();
        for (i, &(a, c)) in visible.iter().enumerate() {
            if i > 0 {
                path.push((c.log10(), visible[i - 1].0));
            }
            path.push((c.log10(), a));
        }
        path
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (720, 480)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| draw(&e))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(x0..x1, bottom..top + pad)
            .map_err(|e| draw(&e))?;
        let compact = |x: &f64| {
            let v = 10f64.powf(*x);
            match v {
                v if v >= 1e6 => format!("{:.2}M", v / 1e6),
                v if v >= 1e3 => format!("{:.0}k", v / 1e3),
                _ => format!("{v:.0}"),
            }
        };
        chart
            .configure_mesh()
            .x_desc(format!("{cost_label} (log scale)"))
            .y_desc("accuracy (%)")
            .x_labels(8)
            .x_label_formatter(&compact)
            .draw()
            .map_err(|e| draw(&e))?;
        let grey = RGBColor(150, 150, 150);
        if let Some((accuracy, cost)) = medians {
            chart
                .draw_series(LineSeries::new(
                    [(x0, accuracy), (x1, accuracy)],
                    grey.stroke_width(1),
                ))
                .map_err(|e| draw(&e))?
                .label("medians (reference point)")
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], grey));
            chart
                .draw_series(LineSeries::new(
                    [(cost.log10(), bottom), (cost.log10(), top + pad)],
                    grey.stroke_width(1),
                ))
                .map_err(|e| draw(&e))?;
        }
        chart
            .draw_series(LineSeries::new(staircase(whole), BLACK.stroke_width(2)))
            .map_err(|e| draw(&e))?
            .label(whole_label)
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLACK.stroke_width(2)));
        chart
            .draw_series(
                whole
                    .iter()
                    .filter(|p| in_view(p))
                    .map(|&(a, cost)| Circle::new((cost.log10(), a), 3, BLACK.filled())),
            )
            .map_err(|e| draw(&e))?;
        let palette = [
            RGBColor(200, 50, 50),
            RGBColor(40, 90, 200),
            RGBColor(30, 150, 60),
            RGBColor(150, 50, 150),
        ];
        for (i, (name, front)) in series.iter().enumerate() {
            let c = palette[i % palette.len()];
            chart
                .draw_series(LineSeries::new(staircase(front), c.stroke_width(1)))
                .map_err(|e| draw(&e))?
                .label(name.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2))
                });
            chart
                .draw_series(
                    front
                        .iter()
                        .filter(|p| in_view(p))
                        .map(|&(a, cost)| Circle::new((cost.log10(), a), 3, c.filled())),
                )
                .map_err(|e| draw(&e))?;
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

    #[test]
    fn a_front_plot_names_its_series_and_refuses_bad_costs() {
        let whole = vec![(80.0, 1e5), (90.0, 5e5), (94.0, 1e6)];
        let ours = vec![(85.0, 2e5), (93.0, 1e6)];
        let svg = fronts(
            "t",
            "params",
            ("whole table", &whole),
            Some((85.0, 4e5)),
            &[("ours".into(), ours)],
        )
        .unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("ours") && svg.contains("whole table"));
        assert!(fronts("t", "params", ("w", &[]), None, &[]).is_err());
        assert!(fronts("t", "params", ("w", &[(80.0, 0.0)]), None, &[]).is_err());
    }

    #[test]
    fn a_front_narrower_than_a_decade_still_labels_its_cost_axis() {
        // Two networks of 29,828 and 57,716 parameters, a baseline of 54,724: every tick label
        // lies inside the drawn range, and there are several.
        let front = vec![(64.5, 29_828.0), (76.8, 57_716.0)];
        let svg = fronts(
            "t",
            "params",
            ("front", &front),
            None,
            &[("baseline".into(), vec![(74.5, 54_724.0)])],
        )
        .unwrap();
        let labels: Vec<f64> = svg
            .split('>')
            .filter_map(|t| t.split('<').next()?.trim().strip_suffix('k')?.parse().ok())
            .collect();
        assert!(labels.len() >= 3, "{labels:?}");
        assert!(
            labels.iter().all(|&k| (26.0..=64.0).contains(&k)),
            "{labels:?}"
        );
        // Each point is drawn: three filled circles.
        assert_eq!(svg.matches("<circle").count(), 3);
    }
}

/// Side-by-side scatter plots sharing one y axis, as an SVG document: one panel per
/// `(x label, points)`, each point `(x, y)` a dot, each with its error bar `y ± e` when
/// `errors` gives one per point (same order).
pub fn scatters(
    title: &str,
    y_label: &str,
    panels: &[(String, Vec<(f64, f64)>)],
    errors: Option<&[f64]>,
) -> Result<String, CliError> {
    let points = || panels.iter().flat_map(|(_, p)| p.iter());
    if panels.is_empty() || points().next().is_none() {
        return Err(invalid("nothing to plot: no point".into()));
    }
    if points().any(|(x, y)| !(x.is_finite() && y.is_finite())) {
        return Err(invalid(
            "nothing to plot: a point that is not finite".into(),
        ));
    }
    let err = |i: usize| errors.and_then(|e| e.get(i)).copied().unwrap_or(0.0);
    let (mut lo, mut hi) = (f64::MAX, f64::MIN);
    for (_, p) in panels {
        for (i, (_, y)) in p.iter().enumerate() {
            lo = lo.min(y - err(i));
            hi = hi.max(y + err(i));
        }
    }
    let pad = 0.05 * (hi - lo).max(0.01);
    let draw = |e: &dyn std::fmt::Display| invalid(format!("drawing the plot: {e}"));
    let mut svg = String::new();
    {
        let width = 40 + 320 * panels.len() as u32;
        let root = SVGBackend::with_string(&mut svg, (width, 400)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| draw(&e))?;
        let root = root
            .titled(title, ("sans-serif", 18))
            .map_err(|e| draw(&e))?;
        let areas = root.split_evenly((1, panels.len()));
        for ((x_label, p), area) in panels.iter().zip(&areas) {
            let (xl, xh) = p.iter().fold((f64::MAX, f64::MIN), |(a, b), (x, _)| {
                (a.min(*x), b.max(*x))
            });
            let xpad = 0.05 * (xh - xl).max(0.01);
            let mut chart = ChartBuilder::on(area)
                .margin(10)
                .x_label_area_size(36)
                .y_label_area_size(48)
                .build_cartesian_2d(xl - xpad..xh + xpad, lo - pad..hi + pad)
                .map_err(|e| draw(&e))?;
            chart
                .configure_mesh()
                .x_desc(x_label.as_str())
                .y_desc(y_label)
                .draw()
                .map_err(|e| draw(&e))?;
            let blue = RGBColor(40, 90, 200);
            if errors.is_some() {
                chart
                    .draw_series(p.iter().enumerate().map(|(i, &(x, y))| {
                        PathElement::new(vec![(x, y - err(i)), (x, y + err(i))], blue.mix(0.4))
                    }))
                    .map_err(|e| draw(&e))?;
            }
            chart
                .draw_series(
                    p.iter()
                        .map(|&(x, y)| Circle::new((x, y), 3, blue.filled())),
                )
                .map_err(|e| draw(&e))?;
        }
        root.present().map_err(|e| draw(&e))?;
    }
    Ok(svg)
}

#[cfg(test)]
mod scatter_tests {
    #[test]
    fn scatters_draw_every_point_and_refuse_nothing_to_draw() {
        let panels = vec![
            ("a".to_string(), vec![(1.0, 2.0), (2.0, 3.0), (3.0, 2.5)]),
            ("b".to_string(), vec![(0.1, 2.0), (0.3, 3.0), (0.2, 2.5)]),
        ];
        let svg = super::scatters("t", "y", &panels, Some(&[0.1, 0.2, 0.3])).unwrap();
        assert_eq!(svg.matches("<circle").count(), 6);
        let texts: Vec<&str> = svg
            .split("</text>")
            .map(|t| t.rsplit('>').next().unwrap().trim())
            .collect();
        assert!(texts.contains(&"a") && texts.contains(&"b"), "{texts:?}");
        assert!(super::scatters("t", "y", &[], None).is_err());
        let nan = vec![("a".to_string(), vec![(f64::NAN, 1.0)])];
        assert!(super::scatters("t", "y", &nan, None).is_err());
    }
}
