package config

import "time"

// Configuration of encrypted file storage.
const (
	EnvS3Bucket         = "S3_BUCKET"
	EnvS3Endpoint       = "S3_ENDPOINT"
	EnvS3Region         = "S3_REGION"
	EnvS3ForcePathStyle = "S3_FORCE_PATH_STYLE"
	EnvMaxFileBytes     = "VAULT_MAX_FILE_BYTES"
	EnvFileOrphanGrace  = "VAULT_FILE_ORPHAN_GRACE"
	// The standard AWS variables, read through the configuration's source
	// so a test can give vaultd its own S3 keys.
	EnvAWSAccessKeyID     = "AWS_ACCESS_KEY_ID"
	EnvAWSSecretAccessKey = "AWS_SECRET_ACCESS_KEY" //nolint:gosec // G101: the name of an environment variable, not its value
)

// FileStorage says where sealed file contents go and how large they may be.
type FileStorage struct {
	// S3Bucket empty: dev mode keeps blobs under the state directory
	// (VAULT_DATA_DIR), production refuses the file endpoints.
	S3Bucket         string
	S3Endpoint       string
	S3Region         string
	S3ForcePathStyle bool
	MaxFileBytes     int64
	// OrphanGrace is how old a blob no event names must be before the
	// sweep deletes it.
	OrphanGrace time.Duration
	// AccessKeyID and SecretAccessKey are AWS_ACCESS_KEY_ID and
	// AWS_SECRET_ACCESS_KEY as this configuration's source saw them: when
	// both are set they are used, otherwise the rest of the standard AWS
	// credential chain (shared files, instance role).
	AccessKeyID     string
	SecretAccessKey Secret
}

func fileVars() []Var {
	return []Var{
		{EnvS3Bucket, "", "no", "S3 bucket for encrypted file contents (ciphertext only; the vault writes nothing else there). Empty: dev mode keeps them under the dev database's state directory (see VAULT_DATA_DIR) in `files/`; production mode refuses the file endpoints (503) rather than write to local disk."},
		{EnvS3Endpoint, "", "no", "S3 endpoint URL of an S3-compatible server (MinIO, versitygw); empty uses AWS. Credentials come from the standard AWS chain (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, shared files, instance role)."},
		{EnvS3Region, "", "no", "Region of the bucket; empty uses AWS_REGION, then us-east-1."},
		{EnvS3ForcePathStyle, "false", "no", "`true` addresses the bucket as a path (`endpoint/bucket/key`), as MinIO and versitygw need."},
		{EnvAWSAccessKeyID, "", "no", "Access key id of the S3 bucket's credentials, with AWS_SECRET_ACCESS_KEY; without them the rest of the standard AWS chain (shared files, instance role) applies."},
		{EnvAWSSecretAccessKey, "", "with AWS_ACCESS_KEY_ID", "Secret access key of the S3 bucket's credentials."},
		{EnvMaxFileBytes, "5368709120", "no", "Largest file version in bytes (5 GiB); a larger upload answers 413 before anything is stored (from its Content-Length), or as soon as it passes the limit."},
		{EnvFileOrphanGrace, "1h", "no", "Age after which a blob that no event names (an upload that crashed between storing and recording) is deleted by the background sweep; run on every replica, it is safe concurrently."},
	}
}

func (c *Config) parseFiles(p *parser) {
	c.Files = FileStorage{
		S3Bucket:         p.str(EnvS3Bucket),
		S3Endpoint:       p.str(EnvS3Endpoint),
		S3Region:         p.str(EnvS3Region),
		S3ForcePathStyle: p.bool(EnvS3ForcePathStyle),
		MaxFileBytes:     int64(p.int(EnvMaxFileBytes, 1)),
		OrphanGrace:      p.duration(EnvFileOrphanGrace),
	}
	if id, ok := p.lookup(EnvAWSAccessKeyID); ok {
		c.Files.AccessKeyID = id
	}
	if key, ok := p.lookup(EnvAWSSecretAccessKey); ok {
		c.Files.SecretAccessKey = Secret(key)
	}
	if c.Files.S3Region == "" {
		c.Files.S3Region = c.AWSRegion
	}
	if c.Files.S3Region == "" {
		c.Files.S3Region = "us-east-1"
	}
	if c.Files.OrphanGrace > 0 && c.Files.OrphanGrace < time.Minute {
		p.fail(EnvFileOrphanGrace, "must be at least 1m, so an upload in flight is never taken for an orphan")
	}
}
