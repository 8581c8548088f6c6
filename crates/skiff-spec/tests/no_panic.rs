//! Random and mutated input never panics the loader: it returns a topology or
//! errors. (The cargo-fuzz target in fuzz/ drives the same entry point.)

use proptest::prelude::*;
use skiff_spec::{load_with, LoadOptions};
use std::path::{Path, PathBuf};

const SEED_COMPOSE: &str = "x-a: &a\n  restart: always\nservices:\n  web:\n    <<: *a\n    image: \"${IMG:-busybox}\"\n    ports: [\"8080:80\", {target: 9, published: 10}]\n    environment: [A=1]\n    depends_on: {db: {condition: service_healthy}}\n    healthcheck: {test: [CMD, true], interval: 1m30s}\n    deploy: {replicas: 2, resources: {limits: {cpus: '0.5', memory: 64M}}}\n    volumes: [\"v:/v:ro\", {type: bind, source: ., target: /x}]\n  db:\n    image: db\n    profiles: [p]\nvolumes: {v: }\n";
const SEED_TOML: &str = "[services.web]\nimage = \"b\"\nreplicas = 2\nspread = 1\nports = [\"80:80\"]\nlb = { listen = 80, port = 80 }\ndepends_on = { m = \"healthy\" }\n[services.m]\nimage = \"b\"\nwith = \"web\"\n[env.prod.web]\nreplicas = 3\n";

fn run(name: &str, text: &str) {
    let text = text.to_string();
    let read = move |p: &Path| -> std::io::Result<String> {
        if p.ends_with(".env") {
            Ok("IMG=\nX=${IMG:-y}\n".into())
        } else if p.extension().is_some_and(|e| e == "env") {
            Err(std::io::Error::from(std::io::ErrorKind::NotFound))
        } else {
            Ok(text.clone())
        }
    };
    let opts = LoadOptions {
        project: Some("fz".into()),
        profiles: vec!["p".into()],
        ..Default::default()
    };
    let paths = [PathBuf::from(format!("/nonexistent/{name}"))];
    let _ = load_with(&paths, &opts, &read);
    let two = [paths[0].clone(), paths[0].clone()];
    let _ = load_with(&two, &opts, &read);
}

fn mutate(seed: &str, edits: &[(usize, u8, u8)]) -> String {
    let mut b = seed.as_bytes().to_vec();
    for &(at, op, byte) in edits {
        let i = at % (b.len() + 1);
        match op % 3 {
            0 if i < b.len() => {
                b.remove(i);
            }
            1 => b.insert(i, byte),
            _ if i < b.len() => b[i] = byte,
            _ => {}
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

const ALPHABET: &[&str] = &[
    "services",
    ":",
    "\n",
    "  ",
    "- ",
    "[",
    "]",
    "{",
    "}",
    "\"",
    "'",
    "=",
    "${",
    "$$",
    "}",
    "web",
    "image",
    "<<",
    "*a",
    "&a",
    "depends_on",
    "with",
    "ports",
    "8080:80",
    ",",
    "#",
    "[services.x]",
    "replicas",
    "1",
    "-1",
    "99999999999999999999",
    "true",
    "null",
    ".",
    "env",
    "healthcheck",
    "test",
    "volumes",
    "/x",
    ":ro",
    "!!str",
    "---",
    "|",
    ">",
    "?",
    "\t",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn random_tokens_never_panic(tokens in proptest::collection::vec(0usize..ALPHABET.len(), 0..80)) {
        let text: String = tokens.iter().map(|&i| ALPHABET[i]).collect();
        run("compose.yaml", &text);
        run("skiff.toml", &text);
        run("skiff.yaml", &text);
    }

    #[test]
    fn mutated_valid_files_never_panic(edits in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..8)) {
        run("compose.yaml", &mutate(SEED_COMPOSE, &edits));
        run("skiff.toml", &mutate(SEED_TOML, &edits));
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        run("compose.yaml", &text);
        run("skiff.toml", &text);
    }
}

#[test]
fn seeds_are_valid() {
    let read = |p: &Path| -> std::io::Result<String> {
        if p.ends_with(".env") {
            return Err(std::io::Error::from(std::io::ErrorKind::NotFound));
        }
        Ok(if p.ends_with("skiff.toml") {
            SEED_TOML
        } else {
            SEED_COMPOSE
        }
        .to_string())
    };
    let opts = LoadOptions {
        project: Some("s".into()),
        profiles: vec!["p".into()],
        ..Default::default()
    };
    let t = load_with(&[PathBuf::from("/x/compose.yaml")], &opts, &read).unwrap();
    assert_eq!(t.services["web"].replicas, 2);
    let t = load_with(&[PathBuf::from("/x/skiff.toml")], &opts, &read).unwrap();
    assert_eq!(t.services["m"].wanted_replicas(&t), 2);
}
