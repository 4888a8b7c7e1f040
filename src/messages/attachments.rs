//! Files: `attach` (encrypt, upload, send the reference) and `download`.

use std::path::PathBuf;

use anyhow::{bail, Context as _};
use clap::Args;
use curbside_client::content::{AttachmentRef, Content};
use curbside_crypto::attachment;
use curbside_protocol::ids::MessageId;

use super::send::{connect, random_message_id};
use crate::commands::{out, ProfileArg};
use crate::profile::Profile;

#[derive(Args)]
pub(crate) struct AttachArgs {
    #[command(flatten)]
    profile: ProfileArg,
    /// Recipient: a name (or part of one), an NPI or a user id (repeat for several).
    #[arg(long, required = true)]
    to: Vec<String>,
    /// Send even to colleagues whose keys changed since you verified them,
    /// or whom no administrator verified.
    #[arg(long)]
    allow_unverified: bool,
    /// The file to send.
    file: PathBuf,
}

#[derive(Args)]
pub(crate) struct DownloadArgs {
    #[command(flatten)]
    profile: ProfileArg,
    /// The id of the message that carries the attachment.
    message_id: MessageId,
    /// Where to write the decrypted file.
    #[arg(long)]
    out: PathBuf,
}

/// Encrypts a file (streamed, never whole in memory) and uploads the opaque
/// blob; returns the reference to send inside a message, and the blob size.
pub(crate) async fn upload_file(
    account: &curbside_client::Account,
    path: &std::path::Path,
) -> anyhow::Result<(AttachmentRef, u64)> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .context("the file has no name")?;
    let plain = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut sealed = tempfile::NamedTempFile::new().context("creating a temporary file")?;
    let info = attachment::encrypt(
        std::io::BufReader::new(plain),
        std::io::BufWriter::new(sealed.as_file_mut()),
        &mut rand_core::OsRng,
    )
    .context("encrypting the attachment")?;
    let (api, token) = crate::commands::login(account).await?;
    let upload = tokio::fs::File::open(sealed.path()).await?;
    let stored = api.upload_attachment(&token, upload).await?;
    Ok((
        AttachmentRef {
            attachment_id: stored.attachment_id.into(),
            key: info.key.as_bytes().to_vec().into(),
            digest: info.digest.to_vec().into(),
            name,
            size: info.plaintext_len,
        },
        info.ciphertext_len,
    ))
}

pub(crate) async fn attach(args: AttachArgs) -> anyhow::Result<()> {
    let (profile, account) = Profile::open(&args.profile.profile)?;
    let mut state = profile.load_state()?;
    let to =
        crate::people::recipients(&account, &mut state, &args.to, args.allow_unverified, &profile).await?;
    let (file, blob_len) = upload_file(&account, &args.file).await?;
    let (name, size) = (file.name.clone(), file.size);
    let id = random_message_id()?;
    let mut client = connect(&profile, &mut state, account).await?;
    let content = Content::attachment(to.clone(), file);
    let result = super::send::send_trusting(
        &profile,
        &mut state,
        &mut client,
        (&to, &id),
        content,
        args.allow_unverified,
        &curbside_client::Urgency::routine(),
    )
    .await;
    let account = client.close().await;
    profile.save(&account)?;
    out(&result?.describe(
        &format!("Sent {name} ({size} bytes, encrypted {blob_len} bytes)"),
        &id,
    ))
}

pub(crate) async fn download(args: DownloadArgs) -> anyhow::Result<()> {
    let (profile, account) = Profile::open(&args.profile.profile)?;
    let state = profile.load_state()?;
    let Some(message) = state.find(&args.message_id) else {
        bail!(
            "no message {} in this profile's history (run `curbside sync`)",
            args.message_id
        );
    };
    let Content::Attachment { file, .. } = &message.content else {
        bail!("message {} carries no attachment", args.message_id);
    };
    let size = fetch(&account, file, &args.out).await?;
    out(&format!(
        "Saved {} ({size} bytes) to {}",
        file.name,
        args.out.display()
    ))
}

/// Downloads the attachment `file` refers to, checks and decrypts it, and
/// writes it to `to` (only once it verified: a file that does not is never
/// left where the clinician would open it). Returns its size.
pub(crate) async fn fetch(
    account: &curbside_client::Account,
    file: &AttachmentRef,
    to: &std::path::Path,
) -> anyhow::Result<u64> {
    let key: [u8; 32] = file
        .key
        .as_slice()
        .try_into()
        .context("the attachment key is not 32 bytes")?;
    let digest: [u8; 32] = file
        .digest
        .as_slice()
        .try_into()
        .context("the attachment digest is not 32 bytes")?;
    let (api, token) = crate::commands::login(account).await?;
    let blob = tempfile::NamedTempFile::new().context("creating a temporary file")?;
    let mut writer = tokio::fs::File::create(blob.path()).await?;
    api.download_attachment(&token, &file.attachment_id, &mut writer)
        .await?;
    drop(writer);
    // Decrypt next to the destination, then move it into place: a file that
    // fails verification is never left where the clinician would open it.
    let partial = to.with_extension("partial");
    let result = (|| {
        let sealed = std::io::BufReader::new(std::fs::File::open(blob.path())?);
        let out = std::io::BufWriter::new(std::fs::File::create(&partial)?);
        attachment::decrypt(sealed, out, &attachment::AttachmentKey::from_bytes(key), &digest)
    })();
    let size = match result {
        Ok(size) => size,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            bail!("the attachment does not verify or decrypt: {e}");
        }
    };
    std::fs::rename(&partial, to).with_context(|| format!("writing {}", to.display()))?;
    Ok(size)
}

/// `dir/name`, or `dir/name (2)` … if that exists; only the file name of
/// `name` is used (a sender cannot choose where the file goes).
pub(crate) fn free_path(dir: &std::path::Path, name: &str) -> PathBuf {
    let name = std::path::Path::new(name)
        .file_name()
        .map_or_else(|| "attachment".into(), |n| n.to_string_lossy().into_owned());
    let mut path = dir.join(&name);
    let mut i = 2;
    while path.exists() {
        path = dir.join(format!("{name} ({i})"));
        i += 1;
    }
    path
}
