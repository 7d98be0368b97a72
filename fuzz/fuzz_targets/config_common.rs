//! What both config targets check.

use redress_config::{ConfigFile, Document, Format};

pub fn check(text: &str, format: Format) {
    // What the doctor does: parse as far as it can, lint every entry.
    if let Ok(document) = Document::parse_partial(text, format) {
        for entry in document.entries() {
            let _ = document.lint(entry);
        }
    }
    let loaded = match format {
        Format::Json => ConfigFile::from_json_str(text),
        _ => ConfigFile::from_toml_str(text),
    };
    let Ok(file) = loaded else { return };
    for (_, config) in file.policies() {
        // Builds, or says why; never panics.
        let _ = config.build();
    }
    // Export is lossless: both forms load back, to the same export.
    let toml = file.to_toml_string();
    let exports = [
        (
            "TOML",
            toml.clone(),
            ConfigFile::from_toml_str as fn(&str) -> _,
        ),
        ("JSON", file.to_json_string(), ConfigFile::from_json_str),
    ];
    for (form, text, load) in exports {
        let again =
            load(&text).unwrap_or_else(|e| panic!("exported {form} does not load: {e}\n{text}"));
        assert_eq!(
            again.to_toml_string(),
            toml,
            "{form} round trip changed the file"
        );
    }
}
