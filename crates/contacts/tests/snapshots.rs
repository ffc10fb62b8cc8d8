//! Whole decision traces of the guide's scenarios, pinned with insta. A
//! change to any decision, wait, note or reason shows up as a diff here.

#[test]
fn guide_scenario_traces() {
    for scenario in steadfast_contacts::scenarios::all() {
        let trace = scenario.run();
        insta::with_settings!({ description => scenario.about, omit_expression => true }, {
            insta::assert_snapshot!(scenario.name, trace.to_string());
        });
    }
}

#[test]
fn events_serialize_as_json_lines() {
    let scenario = steadfast_contacts::scenarios::all()
        .into_iter()
        .find(|s| s.name == "429_reset_guide_dialect")
        .expect("scenario exists");
    let lines: Vec<String> = scenario
        .run()
        .events
        .iter()
        .map(|e| serde_json::to_string(e).expect("events serialize"))
        .collect();
    insta::assert_snapshot!(lines.join("\n"));
    for line in &lines {
        let back: steadfast::Event = serde_json::from_str(line).expect("events deserialize");
        assert_eq!(serde_json::to_string(&back).unwrap(), *line);
    }
}
