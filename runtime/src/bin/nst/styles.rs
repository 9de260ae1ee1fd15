//! `nst styles`: the bundled styles, as a table or JSON.

use std::fmt::Write;
use std::process::ExitCode;

use nst_runtime::bundled;
use nst_runtime::logging::count;
use nst_runtime::model::StyleModel;

pub fn run(json: bool) -> anyhow::Result<ExitCode> {
    let styles = bundled::list();
    let infos: Vec<_> = styles.iter().map(|s| StyleModel::read_info(&s.path)).collect();
    let broken = infos.iter().filter(|i| i.is_err()).count();
    let mut out = String::new();
    if json {
        // One row per model file; a style's variants share its name.
        let rows: Vec<serde_json::Value> = styles
            .iter()
            .zip(&infos)
            .map(|(s, info)| {
                let mut row = serde_json::json!({
                    "name": s.name,
                    "variant": s.variant.name(),
                    "speed": s.variant.speed_class(),
                    "select": format!("--model {} --variant {}", s.name, s.variant),
                    "path": s.path,
                    "bytes": s.bytes,
                    "int8_path": s.int8_path,
                    "default": s.name == bundled::DEFAULT_STYLE,
                });
                match info {
                    Ok(i) => {
                        row["painting"] = serde_json::json!(i.painting);
                        row["style_image"] = serde_json::json!(i.style_image);
                        row["trained"] = serde_json::json!(i.trained);
                        row["architecture"] = serde_json::json!(i.architecture);
                        if i.variant != s.variant {
                            row["warning"] = serde_json::json!(format!("the file name says {} but the model is {}", s.variant, i.variant));
                        }
                    }
                    Err(e) => row["error"] = serde_json::json!(e.to_string()),
                }
                row
            })
            .collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&rows)?)?;
    } else if styles.is_empty() {
        writeln!(out, "no bundled styles found (looked in {})", bundled::searched())?;
    } else {
        let width = styles.iter().map(|s| s.name.len()).max().unwrap_or(0).max(4);
        writeln!(out, "{:<width$}  {:<25}  {:>7}  painting", "name", "variant", "size")?;
        for (s, info) in styles.iter().zip(&infos) {
            let default = if s.name == bundled::DEFAULT_STYLE { "  (default)" } else { "" };
            let about = match info {
                Ok(i) if !i.trained => "untrained network (pipeline check only)".to_string(),
                Ok(i) => i.painting.clone().or_else(|| i.style_image.clone()).unwrap_or_else(|| i.style_name.clone()),
                Err(e) => format!("unreadable: {e}"),
            };
            let int8 = if s.int8_path.is_some() { ", +int8" } else { "" };
            let variant = format!("{} ({}{int8})", s.variant, s.variant.speed_class());
            writeln!(out, "{:<width$}  {variant:<25}  {:>4.1} MB  {about}{default}", s.name, s.bytes as f64 / 1e6)?;
        }
        let names = bundled::style_names(&styles);
        if let Some(dir) = bundled::weights_dir() {
            let n = names.len();
            writeln!(out, "({} in {}; pick one with --model NAME, and --variant full|fast)", count(n as u64, "style", "styles"), dir.display())?;
            if styles.iter().any(|s| s.int8_path.is_some()) {
                writeln!(out, "(+int8: an int8 copy, which `nst live` runs: up to 1.7x as fast, depending on the CPU; --precision float|int8 chooses)")?;
            }
        }
    }
    crate::common::print_out(&out)?;
    Ok(if broken > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}
