package keys_test

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// kmsServer speaks the AWS KMS JSON 1.1 wire protocol for the four calls the
// provider uses. It verifies every request's SigV4 signature with its own
// implementation of the algorithm, so the SDK's signing, serialization and
// endpoint override all run for real. Ciphertexts are AES-256-GCM under a
// per-key secret with the encryption context as additional data, which is
// how real KMS binds a context to a ciphertext.
type kmsServer struct {
	*httptest.Server
	region    string
	accessKey string
	secretKey string

	mu       sync.Mutex
	keys     map[string][]byte // key ARN -> key material
	aliases  map[string]string // alias name -> key ARN
	calls    map[string]int    // operation -> successful calls
	contexts []map[string]string
	rejected []string // why requests were refused before reaching the operation
	failWith string   // when set, every call fails with this KMS error type (status 500)
}

const testAccount = "111122223333"

func newKMSServer(t *testing.T, region string) *kmsServer {
	t.Helper()
	s := &kmsServer{
		region:    region,
		accessKey: "AKIDVAULTTEST",
		secretKey: "test-secret-access-key",
		keys:      map[string][]byte{},
		aliases:   map[string]string{},
		calls:     map[string]int{},
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// addKey creates a KMS key and returns its ARN.
func (s *kmsServer) addKey(t *testing.T, id string) string {
	t.Helper()
	material := make([]byte, 32)
	_, err := rand.Read(material)
	if err != nil {
		t.Fatal(err)
	}
	arn := fmt.Sprintf("arn:aws:kms:%s:%s:key/%s", s.region, testAccount, id)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[arn] = material
	return arn
}

func (s *kmsServer) addAlias(alias, arn string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.aliases[alias] = arn
}

func (s *kmsServer) callCount(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

func (s *kmsServer) rejections() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.rejected)
}

func (s *kmsServer) seenContexts() []map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.contexts)
}

func (s *kmsServer) setFailure(errType string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failWith = errType
}

type kmsRequest struct {
	KeyID                        string            `json:"KeyId"`
	KeySpec                      string            `json:"KeySpec"`
	NumberOfBytes                int               `json:"NumberOfBytes"`
	CiphertextBlob               []byte            `json:"CiphertextBlob"`
	Plaintext                    []byte            `json:"Plaintext"`
	EncryptionContext            map[string]string `json:"EncryptionContext"`
	SourceKeyID                  string            `json:"SourceKeyId"`
	SourceEncryptionContext      map[string]string `json:"SourceEncryptionContext"`
	DestinationKeyID             string            `json:"DestinationKeyId"`
	DestinationEncryptionContext map[string]string `json:"DestinationEncryptionContext"`
}

func (s *kmsServer) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		s.reject(w, http.StatusBadRequest, "SerializationException", "read body: "+err.Error())
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		s.reject(w, http.StatusBadRequest, "UnknownOperationException", "method or path: "+r.Method+" "+r.URL.Path)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
		s.reject(w, http.StatusBadRequest, "SerializationException", "content type "+ct)
		return
	}
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "TrentService.")
	if !ok {
		s.reject(w, http.StatusBadRequest, "UnknownOperationException", "target "+r.Header.Get("X-Amz-Target"))
		return
	}
	if why := s.verifySigV4(r, body); why != "" {
		s.reject(w, http.StatusBadRequest, "InvalidSignatureException", why)
		return
	}
	var req kmsRequest
	if err := json.Unmarshal(body, &req); err != nil {
		s.reject(w, http.StatusBadRequest, "SerializationException", "json: "+err.Error())
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failWith != "" {
		kmsFail(w, http.StatusInternalServerError, s.failWith, "injected failure")
		return
	}
	var resp any
	var errType, msg string
	switch op {
	case "GenerateDataKey":
		resp, errType, msg = s.generateDataKey(req)
	case "Decrypt":
		resp, errType, msg = s.decrypt(req)
	case "Encrypt":
		resp, errType, msg = s.encrypt(req)
	case "ReEncrypt":
		resp, errType, msg = s.reEncrypt(req)
	default:
		errType, msg = "UnknownOperationException", op
	}
	if errType != "" {
		kmsFail(w, http.StatusBadRequest, errType, msg)
		return
	}
	s.calls[op]++
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-RequestId", "test-request")
	_ = json.NewEncoder(w).Encode(resp)
}

// reject records a protocol-level refusal, which no test expects.
func (s *kmsServer) reject(w http.ResponseWriter, status int, errType, why string) {
	s.mu.Lock()
	s.rejected = append(s.rejected, errType+": "+why)
	s.mu.Unlock()
	kmsFail(w, status, errType, why)
}

func kmsFail(w http.ResponseWriter, status int, errType, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", errType)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": errType, "message": msg})
}

func (s *kmsServer) resolve(id string) (string, bool) {
	if arn, ok := s.aliases[id]; ok {
		return arn, true
	}
	if _, ok := s.keys[id]; ok {
		return id, true
	}
	for arn := range s.keys {
		if strings.HasSuffix(arn, ":key/"+id) {
			return arn, true
		}
	}
	return "", false
}

func (s *kmsServer) generateDataKey(req kmsRequest) (any, string, string) {
	arn, ok := s.resolve(req.KeyID)
	if !ok {
		return nil, "NotFoundException", "key " + req.KeyID
	}
	if req.KeySpec != "AES_256" {
		return nil, "ValidationException", "KeySpec " + req.KeySpec
	}
	s.contexts = append(s.contexts, req.EncryptionContext)
	dk := make([]byte, 32)
	_, _ = rand.Read(dk)
	blob := s.seal(arn, dk, req.EncryptionContext)
	return map[string]any{"CiphertextBlob": blob, "Plaintext": dk, "KeyId": arn}, "", ""
}

func (s *kmsServer) decrypt(req kmsRequest) (any, string, string) {
	s.contexts = append(s.contexts, req.EncryptionContext)
	arn, pt, errType, msg := s.open(req.CiphertextBlob, req.KeyID, req.EncryptionContext)
	if errType != "" {
		return nil, errType, msg
	}
	return map[string]any{"KeyId": arn, "Plaintext": pt, "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}, "", ""
}

func (s *kmsServer) encrypt(req kmsRequest) (any, string, string) {
	arn, ok := s.resolve(req.KeyID)
	if !ok {
		return nil, "NotFoundException", "key " + req.KeyID
	}
	s.contexts = append(s.contexts, req.EncryptionContext)
	return map[string]any{"KeyId": arn, "CiphertextBlob": s.seal(arn, req.Plaintext, req.EncryptionContext), "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}, "", ""
}

func (s *kmsServer) reEncrypt(req kmsRequest) (any, string, string) {
	s.contexts = append(s.contexts, req.SourceEncryptionContext)
	srcARN, pt, errType, msg := s.open(req.CiphertextBlob, req.SourceKeyID, req.SourceEncryptionContext)
	if errType != "" {
		return nil, errType, msg
	}
	dstARN, ok := s.resolve(req.DestinationKeyID)
	if !ok {
		return nil, "NotFoundException", "key " + req.DestinationKeyID
	}
	return map[string]any{
		"CiphertextBlob": s.seal(dstARN, pt, req.DestinationEncryptionContext),
		"KeyId":          dstARN,
		"SourceKeyId":    srcARN,
	}, "", ""
}

// seal lays a ciphertext blob out as len(arn) || arn || nonce || GCM output.
func (s *kmsServer) seal(arn string, pt []byte, ec map[string]string) []byte {
	aead := gcm(s.keys[arn])
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce)
	blob := append([]byte{byte(len(arn))}, arn...)
	blob = append(blob, nonce...)
	return aead.Seal(blob, nonce, pt, contextAAD(ec))
}

func (s *kmsServer) open(blob []byte, keyID string, ec map[string]string) (string, []byte, string, string) {
	if len(blob) < 1 || len(blob) < 1+int(blob[0])+12+16 {
		return "", nil, "InvalidCiphertextException", "short blob"
	}
	arn := string(blob[1 : 1+int(blob[0])])
	material, ok := s.keys[arn]
	if !ok {
		return "", nil, "InvalidCiphertextException", "unknown key"
	}
	if keyID != "" {
		want, ok := s.resolve(keyID)
		if !ok || want != arn {
			return "", nil, "IncorrectKeyException", "ciphertext was not encrypted under " + keyID
		}
	}
	rest := blob[1+int(blob[0]):]
	pt, err := gcm(material).Open(nil, rest[:12], rest[12:], contextAAD(ec))
	if err != nil {
		return "", nil, "InvalidCiphertextException", ""
	}
	return arn, pt, "", ""
}

func gcm(key []byte) cipher.AEAD {
	block, err := aes.NewCipher(key)
	if err != nil {
		panic(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return aead
}

// contextAAD is deterministic: encoding/json sorts map keys.
func contextAAD(ec map[string]string) []byte {
	if len(ec) == 0 {
		return nil
	}
	b, _ := json.Marshal(ec)
	return b
}

var authRE = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$`)

// verifySigV4 recomputes the request's signature from scratch and returns
// why it does not match, or "".
func (s *kmsServer) verifySigV4(r *http.Request, body []byte) string {
	m := authRE.FindStringSubmatch(r.Header.Get("Authorization"))
	if m == nil {
		return "Authorization header is not SigV4: " + r.Header.Get("Authorization")
	}
	accessKey, date, region, service, signedHeaders, signature := m[1], m[2], m[3], m[4], m[5], m[6]
	amzDate := r.Header.Get("X-Amz-Date")
	if _, err := time.Parse("20060102T150405Z", amzDate); err != nil || !strings.HasPrefix(amzDate, date) {
		return "X-Amz-Date missing or not matching the credential scope: " + amzDate
	}
	if accessKey != s.accessKey || region != s.region || service != "kms" {
		return fmt.Sprintf("credential scope %s/%s/%s", accessKey, region, service)
	}
	names := strings.Split(signedHeaders, ";")
	for _, must := range []string{"host", "x-amz-date", "x-amz-target", "content-type"} {
		if !slices.Contains(names, must) {
			return "header not signed: " + must
		}
	}
	if !slices.IsSorted(names) {
		return "signed headers not sorted"
	}
	var canonHeaders strings.Builder
	for _, name := range names {
		var values []string
		switch name {
		case "host":
			values = []string{r.Host}
		case "content-length":
			values = []string{fmt.Sprint(r.ContentLength)}
		default:
			values = r.Header.Values(name)
		}
		for i, v := range values {
			values[i] = strings.Join(strings.Fields(v), " ")
		}
		canonHeaders.WriteString(name + ":" + strings.Join(values, ",") + "\n")
	}
	payloadHash := sha256.Sum256(body)
	canonical := strings.Join([]string{
		r.Method, "/", r.URL.RawQuery, canonHeaders.String(), signedHeaders, hex.EncodeToString(payloadHash[:]),
	}, "\n")
	canonicalHash := sha256.Sum256([]byte(canonical))
	scope := date + "/" + region + "/" + service + "/aws4_request"
	stringToSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(canonicalHash[:])
	key := hmacSHA256([]byte("AWS4"+s.secretKey), date)
	key = hmacSHA256(key, region)
	key = hmacSHA256(key, service)
	key = hmacSHA256(key, "aws4_request")
	want := hex.EncodeToString(hmacSHA256(key, stringToSign))
	if !hmac.Equal([]byte(want), []byte(signature)) {
		return "signature does not match"
	}
	return ""
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}
