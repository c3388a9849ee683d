// Package sign makes and checks the OpenPGP signatures OSTree repositories
// carry, with github.com/ProtonMail/go-crypto (v4 keys and signatures only,
// which is what GnuPG 2.2 and therefore ostree 2022.7 read).
//
// Glossary:
//   - Detached signature: one binary OpenPGP signature packet (class 0x00,
//     binary document) over the exact bytes of a commit object or a summary
//     file, as `gpg --detach-sign` makes it.
//   - Detached metadata: the a{sv} dictionary stored in
//     objects/XX/<commit>.commitmeta and in summary.sig; its key
//     "ostree.gpgsigs" holds the signatures as aay, one element per signature.
//   - Keyring: concatenated transferable public keys, binary or ASCII armored.
//     A remote's keyring lives in <repo>/<remote>.trustedkeys.gpg, written as
//     GnuPG writes a keyring file (key, user id and signature packets each
//     followed by a trust packet).
//   - GnuPG home: a GnuPG 2.2 directory with public keys in pubring.kbx (a
//     keybox: blobs, each holding one OpenPGP keyblock) or pubring.gpg, and
//     secret keys in private-keys-v1.d/<keygrip>.key as S-expressions.
//   - Result: what checking one signature found (good or bad, which key, who,
//     when, expired or revoked); Describe prints results the way ostree does.
package sign
