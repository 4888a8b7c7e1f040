#!/usr/bin/env bash
# Writes seed corpora for the fuzz targets into server/fuzz/corpus/<target>/:
# one valid input of each frame type, body type and audit parameter, for the
# fuzzer to mutate (SECURITY.md, "Fuzzing"). `ws_send` and `upload_size` build
# their inputs from raw bytes and need no seeds. Corpora are not committed.
set -euo pipefail
cd "$(dirname "$0")"

seed() { # target name content
    mkdir -p "corpus/$1"
    printf '%s' "$3" > "corpus/$1/$2"
}
# http_body: the first byte chooses the body type (0..5) or the Content-Type check (6).
body() { # selector name content
    mkdir -p corpus/http_body
    { printf "\\x$1"; printf '%s' "$3"; } > "corpus/http_body/$2"
}

k='AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8='
seed client_frame auth '{"type":"auth","version":1,"user_id":"alice","device_id":1,"signature":"'$k'"}'
seed client_frame publish_prekeys '{"type":"publish_prekeys","id":"r1","signed_prekey":"'$k'","one_time_prekeys":[{"id":7,"public_key":"'$k'"}]}'
seed client_frame fetch_bundles '{"type":"fetch_bundles","id":"r2","user_id":"bob"}'
seed client_frame send '{"type":"send","id":"r3","message_id":"m-1","kind":"referral","recipients":[{"user_id":"bob","device_id":2,"ciphertext":"'$k'"}]}'
seed client_frame ack '{"type":"ack","delivery_ids":[1,2],"receipt_ids":[3]}'
seed client_frame directory_search '{"type":"directory_search","id":"r4","name":"Ada","specialty":null}'
seed client_frame ping '{"type":"ping","id":"p"}'

body 00 enroll '{"invite":"cbs_inv_x","display_name":"Dr A","npi":"1234567893","specialty":"cardiology","identity_key":"'$k'","signature":"'$k'","signed_prekey":"'$k'","one_time_prekeys":[{"id":1,"public_key":"'$k'"}]}'
body 01 session '{"user_id":"alice","device_id":1,"challenge":"'$k'","signature":"'$k'"}'
body 02 invite_user '{"target":{"for":"new_user","role":"compliance_officer"},"expires_in_secs":3600}'
body 02 invite_device '{"target":{"for":"new_device","user_id":"alice"}}'
body 03 role '{"role":"admin"}'
body 04 referral '{"referral_id":"ref-1","to":"bob","specialty":"cardiology","priority":"urgent","message_id":"m-1"}'
body 05 transition '{"reason_message_id":"m-2"}'
body 06 content_type 'application/fhir+json; charset=utf-8'

seed audit_query all 'actor=alice&counterpart=bob&action=message.accepted&message_id=m-1&referral_id=r&outcome=failure&since_ms=1&until_ms=2&cursor=3&limit=1000&order=desc&through=4&format=csv&tree_size=5'
seed audit_query encoded 'actor=al%69ce&order=asc&format=jsonl&limit=1'
echo "seeds written under $(pwd)/corpus"
