// Package s3blob stores blobs (sealed file contents) in an S3 bucket through
// aws-sdk-go-v2: large bodies go up as multipart uploads of bounded parts,
// so memory does not depend on a blob's size, and reads are ranged GETs.
// It stores ciphertext only; what a blob means is the caller's business.
package s3blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/securevault/vault/domain"
)

// Upload part sizing: PartSize × Concurrency is what an upload buffers at
// most (S3's minimum part size is 5 MiB).
const (
	PartSize    = 8 << 20
	Concurrency = 3
)

// Config names the bucket and how to reach it. Credentials come from the
// standard AWS chain (environment, shared files, instance role).
type Config struct {
	Bucket         string
	Endpoint       string // empty means AWS
	Region         string
	ForcePathStyle bool
	// Credentials replaces the standard chain when not nil (tests).
	Credentials aws.CredentialsProvider
}

// Store is a bucket of blobs.
type Store struct {
	bucket string
	client *s3.Client
	up     *transfermanager.Client
}

// New returns a Store over an S3 client configured from cfg and the
// standard credential chain.
func New(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Bucket == "" {
		return nil, domain.Errorf(domain.EINVALID, "S3_BUCKET is empty")
	}
	opts := []func(*awsconfig.LoadOptions) error{}
	if cfg.Region != "" {
		opts = append(opts, awsconfig.WithRegion(cfg.Region))
	}
	if cfg.Credentials != nil {
		opts = append(opts, awsconfig.WithCredentialsProvider(cfg.Credentials))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3blob: load AWS configuration: %w", err)
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.ForcePathStyle
		// Checksums on every request only when the operation needs one:
		// S3-compatible servers differ in what they accept.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	return NewWithClient(cfg.Bucket, client), nil
}

// NewWithClient returns a Store over an existing client.
func NewWithClient(bucket string, client *s3.Client) *Store {
	up := transfermanager.New(client, func(o *transfermanager.Options) {
		o.PartSizeBytes = PartSize
		o.Concurrency = Concurrency
	})
	return &Store{bucket: bucket, client: client, up: up}
}

// Put streams r into the object key (multipart when it exceeds one part)
// and returns the bytes stored. A failed upload leaves no object: the
// multipart upload is aborted.
func (s *Store) Put(ctx context.Context, key string, r io.Reader) (int64, error) {
	cr := &countingReader{r: r}
	_, err := s.up.UploadObject(ctx, &transfermanager.UploadObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(key),
		Body:   cr,
	})
	if err != nil {
		return cr.n, storageError("store blob", err)
	}
	return cr.n, nil
}

// Get reads length bytes of key from offset (length < 0: to the end).
func (s *Store) Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	in := &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)}
	switch {
	case length == 0:
		return io.NopCloser(eofReader{}), nil
	case length > 0:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", offset, offset+length-1))
	case offset > 0:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-", offset))
	}
	out, err := s.client.GetObject(ctx, in)
	if err != nil {
		return nil, storageError("read blob", err)
	}
	return out.Body, nil
}

// Delete removes key; a missing key is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil && !notFound(err) {
		return storageError("delete blob", err)
	}
	return nil
}

// List calls fn with every key under prefix and when it was last written.
func (s *Store) List(ctx context.Context, prefix string, fn func(key string, modified time.Time) error) error {
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return storageError("list blobs", err)
		}
		for _, o := range page.Contents {
			if err := fn(aws.ToString(o.Key), aws.ToTime(o.LastModified)); err != nil {
				return err
			}
		}
	}
	return nil
}

// Check reports whether the bucket answers, for readiness.
func (s *Store) Check(ctx context.Context) error {
	if _, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(s.bucket)}); err != nil {
		return storageError("reach bucket "+s.bucket, err)
	}
	return nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

func notFound(err error) bool {
	var nsk *types.NoSuchKey
	if errors.As(err, &nsk) {
		return true
	}
	var api smithy.APIError
	return errors.As(err, &api) && (api.ErrorCode() == "NotFound" || api.ErrorCode() == "NoSuchKey")
}

// storageError keeps the SDK's error for the log and says only that
// storage failed to the caller. A cancelled request is the caller's doing;
// a missing object is ENOTFOUND.
func storageError(op string, err error) error {
	var appErr *domain.Error
	if errors.As(err, &appErr) {
		return err
	}
	switch {
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return domain.WrapError(domain.EUNAVAILABLE, "blob storage unavailable", fmt.Errorf("%s: %w", op, err))
	case notFound(err):
		return domain.WrapError(domain.ENOTFOUND, "blob not found", fmt.Errorf("%s: %w", op, err))
	}
	return domain.WrapError(domain.EUNAVAILABLE, "blob storage failed", fmt.Errorf("%s: %w", op, err))
}
