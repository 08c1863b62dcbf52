//! The server's resident memory over time, and the report: Markdown and an SVG plot.

use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::stats::Verdict;

/// The resident memory of process `pid` in bytes (`VmRSS`), `None` when it is gone.
pub(crate) fn rss_of(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Samples a process's RSS every second until stopped.
pub(crate) struct RssSampler {
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Vec<(f64, u64)>>,
}

impl RssSampler {
    pub(crate) fn start(pid: u32) -> Self {
        let (stop, mut stopped) = oneshot::channel();
        let task = tokio::spawn(async move {
            let started = Instant::now();
            let mut samples = Vec::new();
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        if let Some(rss) = rss_of(pid) {
                            samples.push((started.elapsed().as_secs_f64(), rss));
                        }
                    }
                    _ = &mut stopped => break,
                }
            }
            if let Some(rss) = rss_of(pid) {
                samples.push((started.elapsed().as_secs_f64(), rss));
            }
            samples
        });
        Self { stop, task }
    }

    pub(crate) async fn stop(self) -> Vec<(f64, u64)> {
        let _ = self.stop.send(());
        self.task.await.unwrap_or_default()
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1 << 20) as f64
}

/// The server's memory budget, read from its own `/metrics`.
pub(crate) async fn budget_of(url: &str) -> Option<u64> {
    let text = reqwest::get(format!("{url}/metrics"))
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    let line = text
        .lines()
        .find(|l| l.starts_with(r#"stayput_cache_budget_bytes{tier="memory"}"#))?;
    line.split_whitespace()
        .last()?
        .parse::<f64>()
        .ok()
        .map(|b| b as u64)
}

/// An SVG line plot of RSS (MiB) over seconds, with the memory budget as a dashed line.
fn svg(title: &str, samples: &[(f64, u64)], budget: Option<u64>) -> String {
    let (w, h, left, bottom) = (720.0, 320.0, 64.0, 40.0);
    let t_max = samples.iter().map(|s| s.0).fold(1.0, f64::max);
    let top = budget.map_or(1.0, mib);
    let m_max = samples.iter().map(|s| mib(s.1)).fold(top, f64::max) * 1.1;
    let x = |t: f64| left + (w - left - 16.0) * t / t_max;
    let y = |m: f64| (h - bottom) - (h - bottom - 24.0) * m / m_max;
    let points: Vec<String> = samples
        .iter()
        .map(|(t, rss)| format!("{:.1},{:.1}", x(*t), y(mib(*rss))))
        .collect();
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{left}\" y=\"16\">{}</text>\n\
         <line x1=\"{left}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"black\"/>\n\
         <line x1=\"{left}\" y1=\"24\" x2=\"{left}\" y2=\"{:.1}\" stroke=\"black\"/>\n",
        title.replace('&', "and").replace(['<', '>'], ""),
        h - bottom,
        w - 16.0,
        h - bottom,
        h - bottom,
    );
    for k in 0..=4 {
        let m = m_max * f64::from(k) / 4.0;
        out.push_str(&format!(
            "<text x=\"4\" y=\"{:.1}\">{m:.0} MiB</text>\n",
            y(m) + 4.0
        ));
        let t = t_max * f64::from(k) / 4.0;
        out.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{:.1}\">{t:.0} s</text>\n",
            x(t) - 8.0,
            h - bottom + 16.0
        ));
    }
    if let Some(budget) = budget {
        let b = y(mib(budget));
        out.push_str(&format!(
            "<line x1=\"{left}\" y1=\"{b:.1}\" x2=\"{:.1}\" y2=\"{b:.1}\" stroke=\"#d62728\" stroke-dasharray=\"6 4\"/>\n\
             <text x=\"{:.1}\" y=\"{:.1}\" fill=\"#d62728\">memory budget</text>\n",
            w - 16.0,
            w - 120.0,
            b - 4.0
        ));
    }
    out.push_str(&format!(
        "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\" points=\"{}\"/>\n</svg>\n",
        points.join(" ")
    ));
    out
}

/// Prints the report and, with a `prefix`, writes `prefix.md` and `prefix.svg`.
pub(crate) fn write(
    title: &str,
    table: &str,
    rss: &[(f64, u64)],
    budget: Option<u64>,
    prefix: Option<&str>,
    verdict: &Verdict,
) {
    let peak = rss.iter().map(|s| s.1).max().unwrap_or(0);
    let series: Vec<String> = rss
        .iter()
        .map(|(t, r)| format!("{t:.0}s {:.0}", mib(*r)))
        .collect();
    let text = format!(
        "### {title}\n\n{table}\nServer RSS peak: {:.0} MiB (memory budget {}). Every second (MiB): {}\n\nVerdict: {}\n",
        mib(peak),
        budget.map_or("unknown".to_owned(), |b| format!("{:.0} MiB", mib(b))),
        series.join(", "),
        match verdict {
            Verdict::Pass => "pass (no error for well-behaved sessions)".to_owned(),
            Verdict::Fail(why) => format!("FAIL: {why}"),
        }
    );
    println!("{text}");
    if let Some(prefix) = prefix {
        if let Err(err) = std::fs::write(format!("{prefix}.md"), &text) {
            eprintln!("stayput-loadgen: cannot write {prefix}.md: {err}");
        }
        if let Err(err) = std::fs::write(format!("{prefix}.svg"), svg(title, rss, budget)) {
            eprintln!("stayput-loadgen: cannot write {prefix}.svg: {err}");
        }
    }
}
