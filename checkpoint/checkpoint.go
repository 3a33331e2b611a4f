// Package checkpoint signs the head of the event log's hash chain at
// regular positions, so anyone who keeps a signed checkpoint can later prove
// that the log still holds exactly the prefix it covers: truncating the tail
// or rewriting the log wholesale (recomputing every hash, which the chain
// alone cannot detect) no longer goes unnoticed.
//
// Signed bytes (format v1). The signature is Ed25519 over this exact UTF-8
// text, five lines each ending in "\n", with no other whitespace:
//
//	securevault-checkpoint-v1
//	deployment=<deployment id>
//	position=<decimal position, no leading zeros>
//	hash=<64 lowercase hex digits: the event's chain hash at that position>
//	recorded_at=<the event's recorded_at, UTC, YYYY-MM-DDTHH:MM:SS.ffffffZ>
//
// Text rather than JSON because JSON has no canonical form; an auditor can
// rebuild these bytes with printf and check them with any Ed25519 tool.
// recorded_at has exactly six fractional digits, PostgreSQL's precision.
// The key id is the hex of the first 8 bytes of SHA-256(public key).
package checkpoint

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/securevault/vault/domain"
)

// FormatV1 names the signed encoding and the exported JSON.
const FormatV1 = "securevault-checkpoint-v1"

const timeLayout = "2006-01-02T15:04:05.000000Z"

// Checkpoint is one signed chain head.
type Checkpoint struct {
	Deployment string
	Position   int64
	Hash       []byte
	RecordedAt time.Time
	KeyID      string
	PublicKey  ed25519.PublicKey
	Signature  []byte
}

// SignedBytes is the canonical encoding the signature covers.
func (c Checkpoint) SignedBytes() []byte {
	var b strings.Builder
	b.WriteString(FormatV1)
	b.WriteString("\ndeployment=")
	b.WriteString(c.Deployment)
	b.WriteString("\nposition=")
	b.WriteString(strconv.FormatInt(c.Position, 10))
	b.WriteString("\nhash=")
	b.WriteString(hex.EncodeToString(c.Hash))
	b.WriteString("\nrecorded_at=")
	b.WriteString(c.RecordedAt.UTC().Format(timeLayout))
	b.WriteString("\n")
	return []byte(b.String())
}

// Sign builds and signs a checkpoint.
func Sign(key ed25519.PrivateKey, deployment string, position int64, hash []byte, recordedAt time.Time) (Checkpoint, error) {
	if err := ValidDeployment(deployment); err != nil {
		return Checkpoint{}, err
	}
	if position <= 0 || len(hash) != sha256.Size {
		return Checkpoint{}, domain.Errorf(domain.EINVALID, "a checkpoint needs a position > 0 and a 32-byte hash")
	}
	pub := key.Public().(ed25519.PublicKey)
	c := Checkpoint{
		Deployment: deployment,
		Position:   position,
		Hash:       bytes.Clone(hash),
		RecordedAt: recordedAt.UTC().Truncate(time.Microsecond),
		KeyID:      KeyID(pub),
		PublicKey:  pub,
	}
	c.Signature = ed25519.Sign(key, c.SignedBytes())
	return c, nil
}

// ValidDeployment rejects ids that would make the signed text ambiguous.
func ValidDeployment(s string) error {
	if s == "" || len(s) > 128 {
		return domain.Errorf(domain.EINVALID, "the checkpoint deployment id must be 1 to 128 characters")
	}
	for _, r := range s {
		if r < 0x21 || r == 0x7f {
			return domain.Errorf(domain.EINVALID, "the checkpoint deployment id %q may not contain spaces or control characters", s)
		}
	}
	return nil
}

// KeyID is the hex of the first 8 bytes of SHA-256(pub).
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// VerifySignature checks the signature with the embedded public key and,
// when trusted is not nil, that the embedded key is that trusted one: an
// embedded key alone only proves that someone signed, not who.
func (c Checkpoint) VerifySignature(trusted ed25519.PublicKey) error {
	if len(c.PublicKey) != ed25519.PublicKeySize {
		return domain.Errorf(domain.EINVALID, "the checkpoint's public key is not an Ed25519 key")
	}
	if trusted != nil && !bytes.Equal(trusted, c.PublicKey) {
		return domain.Errorf(domain.EINVALID, "the checkpoint is signed by key %s, not by the expected key %s", KeyID(c.PublicKey), KeyID(trusted))
	}
	if c.KeyID != KeyID(c.PublicKey) {
		return domain.Errorf(domain.EINVALID, "the checkpoint's key id %q does not belong to its public key", c.KeyID)
	}
	if !ed25519.Verify(c.PublicKey, c.SignedBytes(), c.Signature) {
		return domain.Errorf(domain.EINVALID, "the checkpoint's signature is not valid")
	}
	return nil
}

// exported is the JSON form, for the auditor's file and the NATS message.
type exported struct {
	Format     string `json:"format"`
	Deployment string `json:"deployment"`
	Position   int64  `json:"position"`
	Hash       string `json:"hash"`
	RecordedAt string `json:"recorded_at"`
	KeyID      string `json:"key_id"`
	PublicKey  string `json:"public_key"`
	Signature  string `json:"signature"`
}

// MarshalJSON writes the hash, public key and signature in hex.
func (c Checkpoint) MarshalJSON() ([]byte, error) {
	return json.Marshal(exported{
		Format:     FormatV1,
		Deployment: c.Deployment,
		Position:   c.Position,
		Hash:       hex.EncodeToString(c.Hash),
		RecordedAt: c.RecordedAt.UTC().Format(timeLayout),
		KeyID:      c.KeyID,
		PublicKey:  hex.EncodeToString(c.PublicKey),
		Signature:  hex.EncodeToString(c.Signature),
	})
}

// UnmarshalJSON reads what MarshalJSON wrote, strictly.
func (c *Checkpoint) UnmarshalJSON(b []byte) error {
	var e exported
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return domain.WrapError(domain.EINVALID, "the checkpoint is not valid JSON", err)
	}
	if e.Format != FormatV1 {
		return domain.Errorf(domain.EINVALID, "unknown checkpoint format %q", e.Format)
	}
	hash, err1 := hex.DecodeString(e.Hash)
	pub, err2 := hex.DecodeString(e.PublicKey)
	sig, err3 := hex.DecodeString(e.Signature)
	at, err4 := time.Parse(time.RFC3339Nano, e.RecordedAt)
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || len(hash) != sha256.Size {
		return domain.Errorf(domain.EINVALID, "the checkpoint has a malformed hash, key, signature or time")
	}
	*c = Checkpoint{Deployment: e.Deployment, Position: e.Position, Hash: hash, RecordedAt: at.UTC(),
		KeyID: e.KeyID, PublicKey: pub, Signature: sig}
	return nil
}

// Parse reads an exported checkpoint.
func Parse(b []byte) (Checkpoint, error) {
	var c Checkpoint
	err := json.Unmarshal(b, &c)
	return c, err
}

// String never prints more than identifies the checkpoint.
func (c Checkpoint) String() string {
	return fmt.Sprintf("checkpoint %s@%d hash %x key %s", c.Deployment, c.Position, c.Hash, c.KeyID)
}
