package keys

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/envelope"
)

// Environment variables read by KMSConfigFromEnv.
const (
	EnvKMSKeyID          = "KMS_KEY_ID"
	EnvKMSEndpoint       = "KMS_ENDPOINT"
	EnvAWSEndpointURLKMS = "AWS_ENDPOINT_URL_KMS"
	EnvAWSRegion         = "AWS_REGION"
	EnvAWSDefaultRegion  = "AWS_DEFAULT_REGION"
)

// KMSConfig configures the AWS KMS provider.
type KMSConfig struct {
	// KeyID is the KMS key new data keys are generated under: key id, key
	// ARN, alias name or alias ARN.
	KeyID string
	// Region is the AWS region; when empty the SDK's default chain decides.
	Region string
	// Endpoint overrides the KMS endpoint (a VPC endpoint, or a test server).
	Endpoint string
	// Credentials overrides the SDK's default credential chain when not nil.
	Credentials aws.CredentialsProvider
	// HTTPClient overrides the SDK's HTTP client when not nil.
	HTTPClient *http.Client
	// RetryMaxAttempts overrides the SDK's attempts per call when positive.
	RetryMaxAttempts int
}

// KMSConfigFromEnv reads KMS_KEY_ID, AWS_REGION (or AWS_DEFAULT_REGION) and
// the endpoint override AWS_ENDPOINT_URL_KMS (or KMS_ENDPOINT).
func KMSConfigFromEnv(getenv func(string) string) (KMSConfig, error) {
	cfg := KMSConfig{
		KeyID:    getenv(EnvKMSKeyID),
		Region:   getenv(EnvAWSRegion),
		Endpoint: getenv(EnvAWSEndpointURLKMS),
	}
	if cfg.Region == "" {
		cfg.Region = getenv(EnvAWSDefaultRegion)
	}
	if cfg.Endpoint == "" {
		cfg.Endpoint = getenv(EnvKMSEndpoint)
	}
	if cfg.KeyID == "" {
		return KMSConfig{}, domain.Errorf(domain.EINVALID, "%s is not set: name the KMS key that wraps data keys", EnvKMSKeyID)
	}
	return cfg, nil
}

// KMS is the AWS KMS key-encryption-key provider. The data key's encryption
// context is passed to KMS, which binds it to the ciphertext (and records it
// in CloudTrail), so a wrapped key moved to another secret fails to decrypt.
type KMS struct {
	client *kms.Client
	keyID  string
	logger *slog.Logger
}

var _ Provider = (*KMS)(nil)

// NewKMS builds the provider on the real aws-sdk-go-v2 client: the SDK's
// default configuration chain (credentials, shared config) with cfg's
// overrides applied.
func NewKMS(ctx context.Context, cfg KMSConfig, logger *slog.Logger) (*KMS, error) {
	if cfg.KeyID == "" {
		return nil, domain.Errorf(domain.EINVALID, "%s is not set", EnvKMSKeyID)
	}
	if cfg.Endpoint != "" {
		u, err := url.Parse(cfg.Endpoint)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, domain.Errorf(domain.EINVALID, "%s / %s must be an http(s) URL", EnvAWSEndpointURLKMS, EnvKMSEndpoint)
		}
	}
	var loadOpts []func(*config.LoadOptions) error
	if cfg.Region != "" {
		loadOpts = append(loadOpts, config.WithRegion(cfg.Region))
	}
	if cfg.Credentials != nil {
		loadOpts = append(loadOpts, config.WithCredentialsProvider(cfg.Credentials))
	}
	if cfg.HTTPClient != nil {
		loadOpts = append(loadOpts, config.WithHTTPClient(cfg.HTTPClient))
	}
	if cfg.RetryMaxAttempts > 0 {
		loadOpts = append(loadOpts, config.WithRetryMaxAttempts(cfg.RetryMaxAttempts))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, domain.WrapError(domain.EINVALID, "AWS configuration could not be loaded", err)
	}
	if awsCfg.Region == "" {
		return nil, domain.Errorf(domain.EINVALID, "%s is not set: the KMS provider needs a region", EnvAWSRegion)
	}
	client := kms.NewFromConfig(awsCfg, func(o *kms.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
	})
	return &KMS{client: client, keyID: cfg.KeyID, logger: logger}, nil
}

// GenerateDataKey implements Provider with KMS GenerateDataKey (AES_256).
func (p *KMS) GenerateDataKey(ctx context.Context, encryptionContext map[string]string) ([]byte, WrappedKey, error) {
	out, err := p.client.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{
		KeyId:             aws.String(p.keyID),
		KeySpec:           types.DataKeySpecAes256,
		EncryptionContext: encryptionContext,
	})
	if err != nil {
		return nil, WrappedKey{}, kmsError("generate data key", err)
	}
	if len(out.Plaintext) != envelope.KeySize || len(out.CiphertextBlob) == 0 || aws.ToString(out.KeyId) == "" {
		envelope.Zero(out.Plaintext)
		return nil, WrappedKey{}, domain.Errorf(domain.EINTERNAL, "key management service returned a malformed data key")
	}
	return out.Plaintext, WrappedKey{Provider: ProviderAWSKMS, KeyID: aws.ToString(out.KeyId), Ciphertext: out.CiphertextBlob}, nil
}

// Decrypt implements Provider with KMS Decrypt, pinned to the key id the
// data key was wrapped under.
func (p *KMS) Decrypt(ctx context.Context, wrapped WrappedKey, encryptionContext map[string]string) ([]byte, error) {
	if wrapped.Provider != ProviderAWSKMS {
		return nil, domain.Errorf(domain.EINTERNAL, "data key belongs to provider %q, not %q", wrapped.Provider, ProviderAWSKMS)
	}
	out, err := p.client.Decrypt(ctx, &kms.DecryptInput{
		CiphertextBlob:    wrapped.Ciphertext,
		KeyId:             aws.String(wrapped.KeyID),
		EncryptionContext: encryptionContext,
	})
	if err != nil {
		return nil, kmsError("decrypt data key", err)
	}
	if len(out.Plaintext) != envelope.KeySize {
		envelope.Zero(out.Plaintext)
		return nil, domain.WrapError(domain.EINTERNAL, "data key could not be unwrapped", ErrUnwrap)
	}
	return out.Plaintext, nil
}

// Rewrap implements Provider with KMS ReEncrypt: the data key's plaintext
// never leaves KMS.
func (p *KMS) Rewrap(ctx context.Context, wrapped WrappedKey, encryptionContext map[string]string) (WrappedKey, bool, error) {
	if wrapped.Provider != ProviderAWSKMS {
		return WrappedKey{}, false, domain.Errorf(domain.EINTERNAL, "data key belongs to provider %q, not %q", wrapped.Provider, ProviderAWSKMS)
	}
	out, err := p.client.ReEncrypt(ctx, &kms.ReEncryptInput{
		CiphertextBlob:               wrapped.Ciphertext,
		SourceKeyId:                  aws.String(wrapped.KeyID),
		SourceEncryptionContext:      encryptionContext,
		DestinationKeyId:             aws.String(p.keyID),
		DestinationEncryptionContext: encryptionContext,
	})
	if err != nil {
		return WrappedKey{}, false, kmsError("rewrap data key", err)
	}
	// KMS reports full key ARNs on both sides, whatever form KeyID has.
	if aws.ToString(out.KeyId) == aws.ToString(out.SourceKeyId) {
		return wrapped, false, nil
	}
	if len(out.CiphertextBlob) == 0 || aws.ToString(out.KeyId) == "" {
		return WrappedKey{}, false, domain.Errorf(domain.EINTERNAL, "key management service returned a malformed data key")
	}
	return WrappedKey{Provider: ProviderAWSKMS, KeyID: aws.ToString(out.KeyId), Ciphertext: out.CiphertextBlob}, true, nil
}

// kmsError maps a KMS failure to an application error. A ciphertext that
// does not authenticate wraps ErrUnwrap; an outage is "unavailable" so the
// caller may retry; anything else is a configuration or permission problem.
func kmsError(op string, err error) error {
	cause := fmt.Errorf("%s: %w", op, err)
	var (
		invalid   *types.InvalidCiphertextException
		incorrect *types.IncorrectKeyException
	)
	if errors.As(err, &invalid) || errors.As(err, &incorrect) {
		return domain.WrapError(domain.EINTERNAL, "data key could not be unwrapped", errors.Join(ErrUnwrap, cause))
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return domain.WrapError(domain.EUNAVAILABLE, "key management service unavailable", cause)
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "DependencyTimeoutException", "KeyUnavailableException", "KMSInternalException",
			"ThrottlingException", "LimitExceededException", "ServiceUnavailableException":
			return domain.WrapError(domain.EUNAVAILABLE, "key management service unavailable", cause)
		}
		return domain.WrapError(domain.EINTERNAL, "key management service refused the request", cause)
	}
	// No API error: the request never got an answer (network, DNS, TLS).
	return domain.WrapError(domain.EUNAVAILABLE, "key management service unavailable", cause)
}
