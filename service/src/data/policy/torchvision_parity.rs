//! Parity with torchvision: every operation at bins 5 and 30 of both magnitude spaces, each
//! sign, on a grey and a colour image, against the outputs of torchvision 0.26's own
//! `_apply_op` (`torchvision_cases.json`, written by
//! `service/tests/python/torchvision_policy_cases.py`). The magnitudes come from this crate's
//! tables, so the ranges are checked too; every output byte must match.
#![allow(clippy::unwrap_used)]
use serde_json::Value;

use super::{Op, Space};
use crate::data::dataset::ImageShape;

const CASES: &str = include_str!("torchvision_cases.json");

fn op_named(name: &str) -> Op {
    let names = [
        "Identity",
        "ShearX",
        "ShearY",
        "TranslateX",
        "TranslateY",
        "Rotate",
        "Brightness",
        "Color",
        "Contrast",
        "Sharpness",
        "Posterize",
        "Solarize",
        "AutoContrast",
        "Equalize",
    ];
    let index = names.iter().position(|&n| n == name).unwrap();
    Op::ALL[index]
}

fn bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn every_operation_matches_torchvision_byte_for_byte() {
    let cases: Value = serde_json::from_str(CASES).unwrap();
    let mut checked = 0;
    let mut failures = Vec::new();
    for image in cases["images"].as_array().unwrap() {
        let dims: Vec<usize> = image["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap() as usize)
            .collect();
        let shape = ImageShape::new(dims[0], dims[1], dims[2]);
        let input = bytes(image["input"].as_str().unwrap());
        for case in image["cases"].as_array().unwrap() {
            let op = op_named(case["op"].as_str().unwrap());
            let space = match case["space"].as_str().unwrap() {
                "wide" => Space::Wide,
                _ => Space::RandAugment,
            };
            let sign = case["sign"].as_f64().unwrap();
            let magnitude = match case["bin"].as_u64() {
                Some(bin) => sign * op.magnitude(space, bin as usize, shape),
                None => 0.0,
            };
            let theirs = case["magnitude"].as_f64().unwrap();
            assert!(
                (magnitude - theirs).abs() <= 1e-5 * theirs.abs().max(1.0),
                "{op:?} {space:?}: magnitude {magnitude} vs torchvision's {theirs}"
            );
            let mut ours = input.clone();
            op.apply(magnitude, &mut ours, shape, &mut vec![0; input.len()]);
            let expected = bytes(case["output"].as_str().unwrap());
            let wrong = ours.iter().zip(&expected).filter(|(a, b)| a != b).count();
            if wrong > 0 {
                let first: Vec<String> = ours
                    .iter()
                    .zip(&expected)
                    .zip(&input)
                    .filter(|((a, b), _)| a != b)
                    .take(4)
                    .map(|((a, b), i)| format!("{i} → {a}, torchvision {b}"))
                    .collect();
                failures.push(format!(
                    "{op:?} {space:?} magnitude {magnitude} on {shape}: {wrong} bytes differ ({})",
                    first.join("; ")
                ));
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 172, "cases read");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
