//! `augmentctl models ...`: list, get, activate and delete published augmenter versions.
use std::process::ExitCode;

use augmentd_client::proto::ModelVersion;
use augmentd_client::{model_ref, Client};

use crate::cli::ModelsCommand;
use crate::table::{percent, render, utc};

/// Runs `augmentctl models ...`.
pub async fn run(client: &Client, command: ModelsCommand) -> anyhow::Result<ExitCode> {
    match command {
        ModelsCommand::List { name } => {
            let models = client.list_models(name.as_deref()).await?;
            println!("{}", models_table(&models));
        }
        ModelsCommand::Get { model } => {
            print!("{}", model_details(&client.get_model(&model).await?))
        }
        ModelsCommand::Activate { model } => {
            let activated = client.activate_model(&model).await?;
            println!("activated {}", model_ref(&activated));
        }
        ModelsCommand::Delete { model, force } => {
            let deleted = client.delete_model(&model, force).await?;
            for version in &deleted {
                println!("deleted {}", model_ref(version));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn metric(model: &ModelVersion, name: &str) -> Option<f64> {
    model.metrics.get(name).copied()
}

fn models_table(models: &[ModelVersion]) -> String {
    let mark = |on: bool, text: &str| if on { text.to_string() } else { String::new() };
    let rows: Vec<Vec<String>> = models
        .iter()
        .map(|m| {
            vec![
                m.name.clone(),
                m.version.to_string(),
                mark(m.active, "*"),
                mark(m.default, "*"),
                m.augmenter.clone(),
                m.dataset.clone(),
                m.epoch.to_string(),
                percent(metric(m, "val_acc")),
                mark(m.collapsed, "yes"),
            ]
        })
        .collect();
    render(
        &[
            "NAME",
            "VERSION",
            "ACTIVE",
            "DEFAULT",
            "AUGMENTER",
            "DATASET",
            "EPOCH",
            "VAL_ACC",
            "COLLAPSED",
        ],
        &rows,
    )
}

fn model_details(m: &ModelVersion) -> String {
    let list = |values: &[f64]| {
        values
            .iter()
            .map(|v| format!("{v:.4}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut text = format!(
        "model:      {}\nactive:     {}\ndefault:    {}\naugmenter:  {} ({})\ndataset:    {}\n\
         input:      {} channels, trained on {}x{}\nmean:       [{}]\nstd:        [{}]\n\
         source job: {} (epoch {})\ncreated:    {}\n",
        model_ref(m),
        m.active,
        m.default,
        m.augmenter,
        if m.variant.is_empty() {
            "reference"
        } else {
            &m.variant
        },
        m.dataset,
        m.channels,
        m.width,
        m.height,
        list(&m.mean),
        list(&m.std),
        m.source_job,
        m.epoch,
        utc(m.created_unix_ms)
    );
    let mut metrics: Vec<_> = m.metrics.iter().collect();
    metrics.sort_by(|a, b| a.0.cmp(b.0));
    for (name, value) in metrics {
        text += &format!("{:<11} {value:.4}\n", format!("{name}:"));
    }
    if m.collapsed {
        text += &format!(
            "warning:    collapsed: every parameter's std is below {} (one fixed transform)\n",
            m.collapse_threshold
        );
    }
    if !m.served.is_empty() {
        text += &format!("served parameters ({} draws, train sampling):\n", m.draws);
        let rows: Vec<Vec<String>> = m
            .served
            .iter()
            .map(|p| {
                vec![
                    format!("  {}", p.name),
                    format!("{:.4}", p.mean),
                    format!("{:.4}", p.std),
                ]
            })
            .collect();
        text += &render(&["  PARAM", "MEAN", "STD"], &rows);
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_tables_mark_active_default_and_collapsed() {
        let mut m = ModelVersion {
            name: "cifar".into(),
            version: 2,
            active: true,
            default: false,
            augmenter: "small_affine".into(),
            variant: "spread".into(),
            dataset: "cifar10".into(),
            epoch: 9,
            collapsed: true,
            ..ModelVersion::default()
        };
        m.metrics.insert("val_acc".into(), 91.234);
        let text = models_table(std::slice::from_ref(&m));
        let row = text.lines().nth(1).expect("row");
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(
            cells,
            [
                "cifar",
                "2",
                "*",
                "small_affine",
                "cifar10",
                "9",
                "91.2",
                "yes"
            ]
        );
        let details = model_details(&m);
        assert!(details.starts_with("model:      cifar@2\n"), "{details}");
        assert!(
            details.contains("augmenter:  small_affine (spread)\n"),
            "{details}"
        );
        assert!(details.contains("val_acc:    91.2340"), "{details}");
    }
}
