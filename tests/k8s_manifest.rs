//! assets/k8s/: the Indexed Job, its headless Service and the Prometheus
//! scrape config read as YAML, and the pod's fetchtop command line parsed
//! by fetchtop's own parser.

use clap::Parser as _;
use serde::Deserialize as _;
use serde_norway::Value;

fn documents(path: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    serde_norway::Deserializer::from_str(&text)
        .map(|doc| Value::deserialize(doc).unwrap())
        .collect()
}

fn kind<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in the manifest"))
}

#[test]
fn the_job_is_indexed_and_its_pods_run_their_shard() {
    let docs = documents("assets/k8s/job.yaml");
    let job = kind(&docs, "Job");
    assert_eq!(job["apiVersion"], "batch/v1");
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"], "Indexed");
    let n = spec["completions"].as_u64().unwrap();
    assert_eq!(spec["parallelism"].as_u64(), Some(n), "every shard at once");
    let pod = &spec["template"]["spec"];
    let container = &pod["containers"][0];
    let env = container["env"].as_sequence().unwrap();
    let var = |name: &str| {
        env.iter()
            .find(|e| e["name"] == name)
            .unwrap_or_else(|| panic!("{name} is not set"))
    };
    assert_eq!(
        var("FETCHTOP_SHARDS")["value"].as_str(),
        Some(n.to_string().as_str()),
        "N must equal completions"
    );
    assert!(
        var("FETCHTOP_CONTROL_TOKEN")["valueFrom"]["secretKeyRef"]["key"].is_string(),
        "the control token comes from a Secret"
    );
    let port = container["ports"][0]["containerPort"].as_u64().unwrap();
    assert!(container["resources"]["limits"]["cpu"].is_string());

    // The command, as the shell runs it in pod 1, parsed by fetchtop itself.
    let script = container["args"][0].as_str().unwrap();
    let line = script.replace("${JOB_COMPLETION_INDEX}", "1");
    let words: Vec<String> = line
        .split_whitespace()
        .skip_while(|w| *w == "exec")
        .map(|w| w.trim_matches('\'').to_string())
        .collect();
    let cli =
        fetchtop::cli::Cli::try_parse_from(&words).unwrap_or_else(|e| panic!("{e}: {words:?}"));
    assert!(cli.run.job.shard_from_env);
    assert_eq!(cli.run.job.metrics.map(|a| u64::from(a.port())), Some(port));
    assert!(
        cli.run.job.metrics.unwrap().ip().is_unspecified(),
        "scraped from other pods"
    );
    assert_eq!(
        cli.run.output.output.as_deref(),
        Some(std::path::Path::new("/out/shard-1.jsonl"))
    );
    assert!(
        cli.run.output.summary_file.is_some(),
        "merge needs each shard's summary"
    );

    let service = kind(&docs, "Service");
    assert_eq!(service["spec"]["clusterIP"], "None", "headless");
    assert_eq!(pod["subdomain"], service["metadata"]["name"]);
    assert_eq!(service["spec"]["ports"][0]["port"].as_u64(), Some(port));
    let selector = service["spec"]["selector"].as_mapping().unwrap();
    for (k, v) in selector {
        assert_eq!(
            &spec["template"]["metadata"]["labels"][k], v,
            "the Service selects the pods"
        );
    }
}

#[test]
fn the_scrape_config_keeps_the_services_metrics_port() {
    let docs = documents("assets/k8s/prometheus.yml");
    let scrape = &docs[0]["scrape_configs"][0];
    assert_eq!(scrape["job_name"], "fetchtop");
    let rules = scrape["relabel_configs"].as_sequence().unwrap();
    assert!(
        rules
            .iter()
            .any(|r| r["regex"] == "metrics" && r["action"] == "keep")
    );
    assert!(
        rules
            .iter()
            .any(|r| r["regex"] == "fetchtop" && r["action"] == "keep")
    );
}
