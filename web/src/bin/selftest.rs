//! The self-test natively: prints the line the browser prints (`hpnum-selftest {json}`);
//! with `--check FILE`, reads the browser's output (a console log holding that line) and
//! exits non-zero, naming each disagreement, unless every value agrees with this build's
//! under the backends' contracts (`hpnum_web::selftest::compare`). With `--points`, measures
//! the page's crossover natively, by the page's own code, and prints its points as the page
//! does (`hpnum-points [...]`): what the browser's figures are compared with.

use std::process::ExitCode;

use hpnum::Gpu;
use hpnum_web::crossover;
use hpnum_web::selftest::{self, LINE_PREFIX};
use serde_json::Value;

fn main() -> ExitCode {
    let gpu = Gpu::shared().map_err(|e| e.to_string());
    let native = pollster::block_on(selftest::run(gpu.as_ref().map_err(Clone::clone), ""));
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args == ["--points"] {
        return match pollster::block_on(native_points(gpu.ok().as_ref())) {
            Ok(points) => {
                println!("hpnum-points {points}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        };
    }
    let [flag, file] = args.as_slice() else {
        println!("{LINE_PREFIX} {native}");
        return ExitCode::SUCCESS;
    };
    if flag != "--check" {
        eprintln!("usage: selftest [--check BROWSER_LOG]");
        return ExitCode::from(2);
    }
    let browser = match browser_line(file) {
        Ok(browser) => browser,
        Err(why) => {
            eprintln!("{file}: {why}");
            return ExitCode::FAILURE;
        }
    };
    println!("native:  {native}\nbrowser: {browser}");
    let problems = selftest::compare(&browser, &native);
    for problem in &problems {
        eprintln!("disagreement: {problem}");
    }
    if problems.is_empty() {
        println!("the browser's self-test agrees with the native build");
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Every call of the page's plan at every size on every backend, as the page measures
/// them.
async fn native_points(gpu: Option<&Gpu>) -> hpnum::Result<Value> {
    let plan = crossover::plan()?;
    let mut backends = crossover::cpu_backends();
    if gpu.is_some() {
        backends.extend(crossover::GPU_FLAVOURS.map(String::from));
    }
    let mut points = Vec::new();
    for call in plan["calls"].as_array().into_iter().flatten() {
        let label = call["label"].as_str().unwrap_or_default();
        for size in call["sizes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_u64)
        {
            for backend in &backends {
                let seconds = crossover::measure(label, size as usize, backend, gpu).await?;
                points.push(serde_json::json!({
                    "kernel": call["kernel"], "label": label, "size": size,
                    "backend": backend, "seconds": seconds,
                }));
            }
        }
    }
    Ok(Value::Array(points))
}

/// The JSON of the one self-test line in a browser's console log (Chromium's
/// `--enable-logging=stderr` wraps each console message in its own prefix and quotes).
fn browser_line(file: &str) -> Result<Value, String> {
    let log = std::fs::read_to_string(file).map_err(|e| e.to_string())?;
    let marker = format!("{LINE_PREFIX} ");
    let lines: Vec<&str> = log.lines().filter(|l| l.contains(&marker)).collect();
    let [line] = lines.as_slice() else {
        return Err(format!("{} lines hold `{marker}`; one must", lines.len()));
    };
    let json = line
        .split_once(&marker)
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    // The JSON ends at its last brace; Chromium appends `", source: … (line)`.
    let end = json.rfind('}').map_or(0, |i| i + 1);
    serde_json::from_str(&json[..end]).map_err(|e| format!("the line's JSON: {e}"))
}
