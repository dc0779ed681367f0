//! The settings a report's measurements choose for its device, and `--save`, which keeps
//! them (with `Auto`'s calibration from the report's crossover sweep) where every `Gpu`
//! opened on this adapter and driver finds them (`GpuOptions::tuning`).

use hpnum::backends::auto::model::Calibration;
use hpnum::backends::gpu::TransferPath;
use hpnum::crossover::Crossover;
use serde_json::{Map, Value, json};

/// How much faster a setting must run than the default to be chosen over it (K ≥ 2 over
/// one step per dispatch, the tree over subgroups): less is within a report's run-to-run
/// noise.
const MARGIN: f64 = 1.05;

/// The `GpuOptions` fields (by name, as `TUNABLE` lists them) the measurements in `report`
/// choose, with the figures that chose them: the faster transfer path by its slower
/// direction, the staging chunk and depth likewise, the norms' reduction, and K with its
/// scheme and workgroup budget at the largest grid where blocking and single steps were
/// both timed. Empty without a GPU.
pub fn choose(report: &Value) -> Value {
    let mut chosen = Map::new();
    let mut why = Map::new();
    let slower = |r: &Value| {
        let (up, down) = (r["upload_gbs"].as_f64(), r["download_gbs"].as_f64());
        up.unwrap_or(0.0).min(down.unwrap_or(0.0))
    };
    let transfers = &report["transfers"];
    let paths: Vec<&Value> = transfers["paths"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| slower(p) > 0.0)
        .collect();
    if let Some(best) = paths.iter().max_by(|a, b| slower(a).total_cmp(&slower(b))) {
        let path = match best["path"].as_str() {
            Some("MappedBuffers") => TransferPath::MappedBuffers,
            _ => TransferPath::Staging,
        };
        chosen.insert("transfer_path".into(), json!(path.name()));
        let rates: Vec<String> = paths
            .iter()
            .map(|p| {
                format!(
                    "{} {:.2} GB/s",
                    p["path"].as_str().unwrap_or("?"),
                    slower(p)
                )
            })
            .collect();
        why.insert(
            "transfer_path".into(),
            json!(format!(
                "the slower direction of 256 MiB: {}",
                rates.join(", ")
            )),
        );
    }
    if let Some(best) = transfers["staging_best"].as_object() {
        chosen.insert(
            "staging_chunk_bytes".into(),
            json!(best["chunk_bytes"].to_string()),
        );
        chosen.insert("staging_depth".into(), json!(best["depth"].to_string()));
        let sweep = transfers["staging_sweep"].as_array().into_iter().flatten();
        let rate = sweep
            .filter(|row| {
                row["chunk_bytes"] == best["chunk_bytes"] && row["depth"] == best["depth"]
            })
            .map(slower)
            .next()
            .unwrap_or(f64::NAN);
        why.insert(
            "staging".into(),
            json!(format!(
                "the staging sweep's best by its slower direction: {rate:.2} GB/s"
            )),
        );
    }
    let kernels = &report["kernels"];
    if let (Some(subgroups), Some(tree)) = (
        kernels["norm_l2_1e8_f32_subgroups_seconds"].as_f64(),
        kernels["norm_l2_1e8_f32_tree_seconds"].as_f64(),
    ) {
        let tree_wins = subgroups / tree >= MARGIN;
        chosen.insert("subgroups".into(), json!((!tree_wins).to_string()));
        why.insert(
            "subgroups".into(),
            json!(format!(
                "L2 of 10⁸ f32, resident: subgroups {:.3} ms, the workgroup-memory tree {:.3} ms",
                subgroups * 1e3,
                tree * 1e3
            )),
        );
    }
    let rows = report["kernels"]["temporal_blocking_f32"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let seconds = |r: &Value| r["seconds_per_step"].as_f64();
    let timed_side = |side: u64, blocked: bool| {
        rows.iter()
            .filter(move |r| r["side"].as_u64() == Some(side) && seconds(r).is_some())
            .filter(move |r| (r["k"].as_u64().unwrap_or(1) > 1) == blocked)
            .min_by(|a, b| {
                seconds(a)
                    .unwrap_or(f64::INFINITY)
                    .total_cmp(&seconds(b).unwrap_or(f64::INFINITY))
            })
    };
    let mut sides: Vec<u64> = rows.iter().filter_map(|r| r["side"].as_u64()).collect();
    sides.sort_unstable();
    let timed = sides
        .iter()
        .rev()
        .find_map(|&side| Some((side, timed_side(side, false)?, timed_side(side, true)?)));
    if let Some((side, one, best)) = timed {
        let speedup = seconds(one).unwrap_or(0.0) / seconds(best).unwrap_or(f64::INFINITY);
        if speedup >= MARGIN {
            chosen.insert(
                "diffusion_steps_per_dispatch".into(),
                json!(best["k"].to_string()),
            );
            chosen.insert("diffusion_blocking".into(), best["scheme"].clone());
            let grant = report["adapter"]["workgroup_storage_bytes"].as_u64();
            let budget = best["workgroup_storage_bytes"].as_u64();
            if budget.is_some() && budget < grant {
                chosen.insert(
                    "workgroup_storage_bytes".into(),
                    json!(best["workgroup_storage_bytes"].to_string()),
                );
            }
        } else {
            chosen.insert("diffusion_steps_per_dispatch".into(), json!("1"));
        }
        why.insert(
            "diffusion".into(),
            json!(format!(
                "at {side}², the best K ≥ 2 stepped {speedup:.2}× as fast as K = 1 \
                 (chosen from {MARGIN}×)"
            )),
        );
    }
    json!({"chosen": chosen, "why": why})
}

/// Saves `Auto`'s calibration from `sweeps` (over the saved one) with `settings`'s chosen
/// fields for the adapter `identity`, and returns the file's path.
pub fn save(
    sweeps: &[Crossover],
    identity: Option<&str>,
    settings: &Value,
) -> Result<String, String> {
    let mut cal = match sweeps.first() {
        Some(first) => first.calibration().map_err(|e| e.to_string())?,
        None => Calibration::new(),
    };
    for sweep in sweeps.iter().skip(1) {
        sweep.calibrate(&mut cal);
    }
    if let Some(identity) = identity {
        if cal.adapter() != Some(identity) {
            cal.keep_gpu_costs_of(Some(identity));
            cal.set_adapter(identity);
        }
        for (field, value) in settings["chosen"].as_object().into_iter().flatten() {
            cal.set_gpu_setting(field, value.as_str().unwrap_or_default());
        }
    }
    cal.save()
        .map(|p| p.display().to_string())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A report with two transfer paths, a staging sweep and blocking timed at two sides.
    fn report(blocked_seconds: f64, blocked_budget: u64) -> Value {
        let row = |side: u64, k: u64, scheme: &str, budget: u64, seconds: f64| {
            json!({"side": side, "k": k, "scheme": scheme,
                   "workgroup_storage_bytes": budget, "seconds_per_step": seconds})
        };
        json!({
            "adapter": {"workgroup_storage_bytes": 49152},
            "transfers": {
                "paths": [
                    {"path": "Staging", "upload_gbs": 20.0, "download_gbs": 18.0},
                    {"path": "MappedBuffers", "upload_gbs": 30.0, "download_gbs": 2.0},
                ],
                "staging_sweep": [
                    {"chunk_bytes": 4194304, "depth": 2, "upload_gbs": 9.0, "download_gbs": 30.0},
                    {"chunk_bytes": 16777216, "depth": 3, "upload_gbs": 20.0, "download_gbs": 18.0},
                ],
                "staging_best": {"chunk_bytes": 16777216, "depth": 3},
            },
            "kernels": {
                "norm_l2_1e8_f32_subgroups_seconds": 1.0,
                "norm_l2_1e8_f32_tree_seconds": 0.9,
                "temporal_blocking_f32": [
                row(4096, 1, "none", 49152, 1.0),
                row(4096, 4, "tiles", 49152, 0.1),
                row(8192, 1, "none", 49152, 4.0),
                row(8192, 2, "tiles", 49152, 3.9),
                row(8192, 8, "stream", blocked_budget, blocked_seconds),
                {"side": 8192, "k": 16, "scheme": "stream", "error": "too many steps"},
            ]},
        })
    }

    fn chosen(report: &Value) -> Vec<(String, String)> {
        let settings = choose(report);
        let map = settings["chosen"].as_object().cloned().unwrap_or_default();
        map.into_iter()
            .map(|(k, v)| (k, v.as_str().unwrap_or("?").to_owned()))
            .collect()
    }

    fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
        expected
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_fastest_measured_setting_is_chosen_at_the_largest_grid() {
        // The faster path by its slower direction; blocking at 8192², not 4096²'s 10×.
        assert_eq!(
            chosen(&report(2.0, 49152)),
            pairs(&[
                ("diffusion_blocking", "stream"),
                ("diffusion_steps_per_dispatch", "8"),
                ("staging_chunk_bytes", "16777216"),
                ("staging_depth", "3"),
                ("subgroups", "false"),
                ("transfer_path", "staging"),
            ])
        );
        // A lowered workgroup budget that won is kept with its K.
        let lowered = chosen(&report(2.0, 16384));
        assert!(lowered.contains(&("workgroup_storage_bytes".into(), "16384".into())));
    }

    #[test]
    fn blocking_within_the_noise_keeps_one_step_per_dispatch() {
        let one = chosen(&report(3.9, 49152));
        assert!(
            one.contains(&("diffusion_steps_per_dispatch".into(), "1".into())),
            "{one:?}"
        );
        assert!(
            !one.iter().any(|(k, _)| k == "diffusion_blocking"),
            "{one:?}"
        );
    }

    #[test]
    fn a_report_without_a_gpu_chooses_nothing() {
        assert!(chosen(&json!({"adapter": null, "transfers": null, "kernels": {}})).is_empty());
    }
}
