//! A consult's images: how they are named to the clinician, and saving
//! them (downloaded, verified and decrypted) from the CLI and the chat.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use curbside_client::content::AttachmentRef;
use curbside_client::urgent::ConsultRecord;
use curbside_protocol::ids::ConsultId;

use crate::commands::{out, ProfileArg};
use crate::profile::Profile;

/// What a file's first bytes say it is, if an image clinicians send:
/// PNG, JPEG, GIF, WebP, HEIC/HEIF, TIFF or BMP.
pub(crate) fn image_kind(head: &[u8]) -> Option<&'static str> {
    let at = |i: usize, magic: &[u8]| head.get(i..i + magic.len()) == Some(magic);
    if at(0, b"\x89PNG\r\n\x1a\n") {
        Some("PNG")
    } else if at(0, &[0xff, 0xd8, 0xff]) {
        Some("JPEG")
    } else if at(0, b"GIF87a") || at(0, b"GIF89a") {
        Some("GIF")
    } else if at(0, b"RIFF") && at(8, b"WEBP") {
        Some("WebP")
    } else if at(4, b"ftyp")
        && [&b"heic"[..], b"heix", b"mif1", b"msf1", b"heif"]
            .iter()
            .any(|b| at(8, b))
    {
        Some("HEIC")
    } else if at(0, b"II*\0") || at(0, b"MM\0*") {
        Some("TIFF")
    } else if at(0, b"BM") {
        Some("BMP")
    } else {
        None
    }
}

/// Checks and uploads a consult's images (encrypted), before anything is
/// asked: too many, an empty file, one that is not an image, or one that
/// cannot be read or stored asks no one.
pub(crate) async fn upload_images(
    account: &curbside_client::Account,
    images: &[PathBuf],
) -> anyhow::Result<Vec<AttachmentRef>> {
    if images.len() > curbside_client::content::MAX_CONSULT_ATTACHMENTS {
        bail!(
            "a consult carries at most {} images: choose the ones that matter most",
            curbside_client::content::MAX_CONSULT_ATTACHMENTS
        );
    }
    for path in images {
        let head = read_head(path).with_context(|| {
            format!(
                "{} cannot be read: it was not sent and nobody was asked",
                path.display()
            )
        })?;
        if head.is_empty() {
            bail!(
                "{} is empty: choose the image file itself (nobody was asked)",
                path.display()
            );
        }
        if image_kind(&head).is_none() {
            bail!(
                "{} is not an image (PNG, JPEG, GIF, WebP, HEIC, TIFF or BMP): a consult carries images; \
                 send other files in a conversation (nobody was asked)",
                path.display()
            );
        }
    }
    let mut attachments = Vec::with_capacity(images.len());
    for path in images {
        let (file, _) = crate::messages::upload_file(account, path)
            .await
            .with_context(|| format!("{} was not sent and nobody was asked", path.display()))?;
        attachments.push(file);
    }
    Ok(attachments)
}

fn read_head(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let mut head = Vec::with_capacity(16);
    std::fs::File::open(path)?.take(16).read_to_end(&mut head)?;
    Ok(head)
}

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
    fn images_are_told_from_other_files_by_their_first_bytes() {
        use super::image_kind;
        assert_eq!(image_kind(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), Some("PNG"));
        assert_eq!(image_kind(&[0xff, 0xd8, 0xff, 0xe0, 0, 0x10]), Some("JPEG"));
        assert_eq!(image_kind(b"GIF89a\x01\0"), Some("GIF"));
        assert_eq!(image_kind(b"RIFF\x24\0\0\0WEBPVP8 "), Some("WebP"));
        assert_eq!(image_kind(b"\0\0\0\x18ftypheic\0\0\0\0"), Some("HEIC"));
        assert_eq!(image_kind(b"II*\0\x08\0\0\0"), Some("TIFF"));
        for other in [
            &b"%PDF-1.7\n"[..],
            b"PK\x03\x04",
            b"hello world",
            b"RIFF\0\0\0\0WAVE",
            b"\x89PN",
            b"",
        ] {
            assert_eq!(image_kind(other), None, "{other:?}");
        }
    }

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
