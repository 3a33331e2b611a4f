package keys_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/envelope"
	"github.com/securevault/vault/internal/pgtest"
	"github.com/securevault/vault/keys"
)

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newKMSProvider(t *testing.T, srv *kmsServer, keyID string, secret string) *keys.KMS {
	t.Helper()
	p, err := keys.NewKMS(context.Background(), keys.KMSConfig{
		KeyID:            keyID,
		Region:           srv.region,
		Endpoint:         srv.URL,
		Credentials:      aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(srv.accessKey, secret, "")),
		RetryMaxAttempts: 1,
	}, discardLogger())
	require.NoError(t, err)
	return p
}

func TestKMSRoundTripAndTamper(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := newKMSServer(t, "eu-west-1")
	arnA := srv.addKey(t, "key-a")
	srv.addAlias("alias/vault", arnA)
	p := newKMSProvider(t, srv, "alias/vault", srv.secretKey)

	ec := keys.EncryptionContext("secret-1", 1)
	dk, wrapped, err := p.GenerateDataKey(ctx, ec)
	require.NoError(t, err)
	require.Len(t, dk, envelope.KeySize)
	require.Equal(t, keys.ProviderAWSKMS, wrapped.Provider)
	require.Equal(t, arnA, wrapped.KeyID, "the full key ARN is recorded, not the alias")
	require.False(t, bytes.Contains(wrapped.Ciphertext, dk))

	got, err := p.Decrypt(ctx, wrapped, ec)
	require.NoError(t, err)
	require.Equal(t, dk, got)
	require.Equal(t, 1, srv.callCount("GenerateDataKey"))
	require.Equal(t, 1, srv.callCount("Decrypt"))
	require.Empty(t, srv.rejections(), "every request must be SigV4-signed and well-formed")
	for _, seen := range srv.seenContexts() {
		require.Equal(t, ec, seen, "the encryption context reaches KMS unchanged")
	}

	flipped := bytes.Clone(wrapped.Ciphertext)
	flipped[len(flipped)-1] ^= 0x01
	tests := []struct {
		name    string
		wrapped keys.WrappedKey
		ec      map[string]string
	}{
		{"wrapped key from another secret", wrapped, keys.EncryptionContext("secret-2", 1)},
		{"wrapped key from another version", wrapped, keys.EncryptionContext("secret-1", 2)},
		{"no encryption context", wrapped, nil},
		{"flipped bit", keys.WrappedKey{Provider: wrapped.Provider, KeyID: wrapped.KeyID, Ciphertext: flipped}, ec},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := p.Decrypt(ctx, tc.wrapped, tc.ec)
			require.ErrorIs(t, err, keys.ErrUnwrap)
			require.Nil(t, got)
			require.NotContains(t, err.Error(), string(dk))
		})
	}
	require.Empty(t, srv.rejections())
}

func TestKMSRewrapToNewKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := newKMSServer(t, "us-east-2")
	arnA := srv.addKey(t, "key-a")
	arnB := srv.addKey(t, "key-b")
	oldP := newKMSProvider(t, srv, arnA, srv.secretKey)
	newP := newKMSProvider(t, srv, "key-b", srv.secretKey)

	ec := keys.EncryptionContext("secret-1", 4)
	dk, wrapped, err := oldP.GenerateDataKey(ctx, ec)
	require.NoError(t, err)

	rewrapped, changed, err := newP.Rewrap(ctx, wrapped, ec)
	require.NoError(t, err)
	require.True(t, changed)
	require.Equal(t, arnB, rewrapped.KeyID)
	require.Equal(t, 1, srv.callCount("ReEncrypt"))

	got, err := newP.Decrypt(ctx, rewrapped, ec)
	require.NoError(t, err)
	require.Equal(t, dk, got)

	again, changed, err := newP.Rewrap(ctx, rewrapped, ec)
	require.NoError(t, err)
	require.False(t, changed, "a key already under the active KMS key is left as is")
	require.Equal(t, rewrapped, again)

	// Decrypt pins the key id: the rewrapped blob claimed under the old key fails.
	_, err = newP.Decrypt(ctx, keys.WrappedKey{Provider: keys.ProviderAWSKMS, KeyID: arnA, Ciphertext: rewrapped.Ciphertext}, ec)
	require.ErrorIs(t, err, keys.ErrUnwrap)

	_, _, err = newP.Rewrap(ctx, wrapped, keys.EncryptionContext("secret-2", 4))
	require.ErrorIs(t, err, keys.ErrUnwrap, "rewrap checks the source encryption context")
	require.Empty(t, srv.rejections())
}

func TestKMSServerChecksSignature(t *testing.T) {
	t.Parallel()
	srv := newKMSServer(t, "eu-west-1")
	arn := srv.addKey(t, "key-a")
	p := newKMSProvider(t, srv, arn, "not-the-secret")

	_, _, err := p.GenerateDataKey(context.Background(), keys.EncryptionContext("s", 1))
	require.Error(t, err)
	require.Equal(t, domain.EINTERNAL, domain.ErrorCode(err))
	require.Equal(t, []string{"InvalidSignatureException: signature does not match"}, srv.rejections())
	require.Zero(t, srv.callCount("GenerateDataKey"))
}

func TestKMSErrorsMapToCodes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		failure string
		code    string
	}{
		{"outage is retryable", "KMSInternalException", domain.EUNAVAILABLE},
		{"key unavailable is retryable", "KeyUnavailableException", domain.EUNAVAILABLE},
		{"disabled key is a configuration problem", "DisabledException", domain.EINTERNAL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := newKMSServer(t, "eu-west-1")
			arn := srv.addKey(t, "key-a")
			p := newKMSProvider(t, srv, arn, srv.secretKey)
			srv.setFailure(tc.failure)
			dk, _, err := p.GenerateDataKey(context.Background(), keys.EncryptionContext("s", 1))
			require.Error(t, err)
			require.Nil(t, dk)
			require.Equal(t, tc.code, domain.ErrorCode(err))
			require.NotErrorIs(t, err, keys.ErrUnwrap)
		})
	}

	t.Run("unknown key", func(t *testing.T) {
		t.Parallel()
		srv := newKMSServer(t, "eu-west-1")
		p := newKMSProvider(t, srv, "alias/missing", srv.secretKey)
		_, _, err := p.GenerateDataKey(context.Background(), keys.EncryptionContext("s", 1))
		require.Equal(t, domain.EINTERNAL, domain.ErrorCode(err))
	})
}

func TestKMSConfigFromEnv(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		want    keys.KMSConfig
		wantErr string
	}{
		{
			name: "aws variables",
			env:  map[string]string{"KMS_KEY_ID": "alias/vault", "AWS_REGION": "eu-west-1", "AWS_ENDPOINT_URL_KMS": "https://kms.internal"},
			want: keys.KMSConfig{KeyID: "alias/vault", Region: "eu-west-1", Endpoint: "https://kms.internal"},
		},
		{
			name: "fallbacks",
			env:  map[string]string{"KMS_KEY_ID": "k", "AWS_DEFAULT_REGION": "us-east-1", "KMS_ENDPOINT": "http://127.0.0.1:1"},
			want: keys.KMSConfig{KeyID: "k", Region: "us-east-1", Endpoint: "http://127.0.0.1:1"},
		},
		{
			name: "aws endpoint wins over the short name",
			env:  map[string]string{"KMS_KEY_ID": "k", "AWS_ENDPOINT_URL_KMS": "https://a", "KMS_ENDPOINT": "https://b"},
			want: keys.KMSConfig{KeyID: "k", Endpoint: "https://a"},
		},
		{name: "missing key id", env: map[string]string{"AWS_REGION": "eu-west-1"}, wantErr: "KMS_KEY_ID"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := keys.KMSConfigFromEnv(func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				require.Equal(t, domain.EINVALID, domain.ErrorCode(err))
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestNewKMSRejectsBadEndpoint(t *testing.T) {
	t.Parallel()
	_, err := keys.NewKMS(context.Background(), keys.KMSConfig{KeyID: "k", Region: "eu-west-1", Endpoint: "kms.internal:443"}, discardLogger())
	require.ErrorContains(t, err, "AWS_ENDPOINT_URL_KMS")
}

// The Store works the same on KMS: keys bound to owner and version, rewrap
// moves them to the new KMS key, destroy shreds.
func TestStoreOnKMS(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.New(t)
	srv := newKMSServer(t, "eu-west-1")
	arnA := srv.addKey(t, "key-a")
	arnB := srv.addKey(t, "key-b")

	oldStore := keys.NewStore(db.Pool, newKMSProvider(t, srv, arnA, srv.secretKey), discardLogger())
	values := map[int64][]byte{}
	for v := int64(1); v <= 3; v++ {
		dk, err := oldStore.NewDataKey(ctx, "secret-kms", v)
		require.NoError(t, err)
		values[v], err = envelope.Seal(dk, []byte("value"), envelope.AAD("secret-kms", v))
		require.NoError(t, err)
	}

	store := keys.NewStore(db.Pool, newKMSProvider(t, srv, arnB, srv.secretKey), discardLogger())
	st, err := store.Rewrap(ctx, nil)
	require.NoError(t, err)
	require.Equal(t, keys.RewrapStats{Scanned: 3, Rewrapped: 3}, st)

	for v, sealed := range values {
		w, err := store.Get(ctx, "secret-kms", v)
		require.NoError(t, err)
		require.Equal(t, arnB, w.KeyID)
		dk, err := store.DataKey(ctx, "secret-kms", v)
		require.NoError(t, err)
		pt, err := envelope.Open(dk, sealed, envelope.AAD("secret-kms", v))
		require.NoError(t, err)
		require.Equal(t, "value", string(pt))
	}

	_, err = store.Delete(ctx, "secret-kms", 2)
	require.NoError(t, err)
	_, err = store.DataKey(ctx, "secret-kms", 2)
	require.ErrorIs(t, err, keys.ErrDataKeyNotFound)
	require.Empty(t, srv.rejections())
}
