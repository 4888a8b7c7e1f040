//! A consult's images: how they are named to the clinician, and saving
//! them (downloaded, verified and decrypted) from the CLI and the chat.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use curbside_client::content::AttachmentRef;
use curbside_client::urgent::ConsultRecord;
use curbside_protocol::ids::ConsultId;

use crate::commands::{out, ProfileArg};
use crate::profile::Profile;

/// A consult's files in words: "2 images: palm.png (1234 bytes), back.jpg (56789 bytes)".
pub(crate) fn image_names(files: &[AttachmentRef]) -> String {
    let names: Vec<String> = files
        .iter()
        .map(|f| format!("{} ({} bytes)", safe_name(&f.name), f.size))
        .collect();
    let what = if files.len() == 1 {
        "1 image"
    } else {
        &format!("{} images", files.len())
    };
    format!("{what}: {}", names.join(", "))
}

/// A file name from a colleague, safe to write into a folder: its last
/// component only, without control characters; "image" when nothing is left.
pub(crate) fn safe_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let clean: String = last.chars().filter(|c| !c.is_control()).collect();
    match clean.trim() {
        "" | "." | ".." => "image".to_owned(),
        t => t.to_owned(),
    }
}

/// Saves every image of a consult into `dir` (created if missing), each
/// under a name not taken there yet; returns where they went.
pub(crate) async fn save_all(
    account: &curbside_client::Account,
    record: &ConsultRecord,
    dir: &Path,
) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut saved = Vec::with_capacity(record.attachments.len());
    for file in &record.attachments {
        let path = crate::messages::free_path(dir, &safe_name(&file.name));
        crate::messages::fetch(account, file, &path).await?;
        saved.push(path);
    }
    Ok(saved)
}

pub(super) async fn save(profile: &ProfileArg, consult: &ConsultId, out_dir: &Path) -> anyhow::Result<()> {
    let (dir, account) = Profile::open(&profile.profile)?;
    let state = dir.load_state()?;
    let Some(record) = state.consults.get(consult.as_str()) else {
        bail!(
            "no consult {consult} here: `curbside consult list --profile {}` shows yours",
            profile.profile.display()
        );
    };
    if record.attachments.is_empty() {
        bail!("consult {consult} came without images: there is nothing to save");
    }
    let saved = save_all(&account, record, out_dir).await?;
    let list: Vec<String> = saved.iter().map(|p| p.display().to_string()).collect();
    let n = saved.len();
    out(&format!(
        "Saved consult {consult}'s {}: {}",
        if n == 1 {
            "image".to_owned()
        } else {
            format!("{n} images")
        },
        list.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::safe_name;

    #[test]
    fn a_colleagues_file_name_is_shown_and_saved_without_paths_or_terminal_controls() {
        assert_eq!(safe_name("../../etc/passwd"), "passwd");
        assert_eq!(safe_name("C:\\Users\\x\\rash.png"), "rash.png");
        assert_eq!(
            safe_name("rash\u{1b}[2J.png"),
            "rash[2J.png",
            "no escape sequence reaches the terminal"
        );
        assert_eq!(safe_name(".."), "image");
        assert_eq!(safe_name(" \u{7} "), "image");
    }
}
