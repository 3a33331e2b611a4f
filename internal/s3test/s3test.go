// Package s3test runs a real S3 server (versitygw with its posix backend)
// for tests: one server per test package, started on first use, and one
// fresh bucket per test, so tests run in parallel and twice in a row.
//
// The server binary is found, in order, at $VAULT_TEST_S3_BIN, as
// `versitygw` on PATH, or in the user's cache directory; when it is in none
// of them it is built there with `go install` through the module proxy
// (pinned Version, about five minutes the first time, then cached). Without
// a server a test is skipped, except under CI=true, where it fails.
//
// A package using it calls Run from its TestMain so the server stops when
// its tests end:
//
//	func TestMain(m *testing.M) { os.Exit(s3test.Run(m)) }
package s3test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/securevault/vault/s3blob"
)

// Version is the versitygw release the tests run against.
const Version = "v1.8.0"

// Module is what `go install` builds when no binary is found.
const Module = "github.com/versity/versitygw/cmd/versitygw"

// Region is the region the server is addressed with (it accepts any).
const Region = "us-east-1"

// Server is a running S3 server.
type Server struct {
	Endpoint  string // http://127.0.0.1:PORT
	AccessKey string
	SecretKey string
	Root      string // the posix backend's directory: Root/<bucket>/<key>

	cmd    *exec.Cmd
	done   chan struct{}
	client *s3.Client
}

// Bucket is one test's bucket on the shared server.
type Bucket struct {
	*Server
	Name string
}

// Path is where the posix backend stores an object of the bucket, for tests
// that play an attacker with access to the storage.
func (b Bucket) Path(key string) string {
	return filepath.Join(b.Root, b.Name, filepath.FromSlash(key))
}

// shared is the package's one server: test support, started once per test
// binary and stopped by Run.
var shared struct {
	once sync.Once
	srv  *Server
	err  error
}

// Run runs the package's tests and stops the server if one was started.
func Run(m *testing.M) int {
	code := m.Run()
	if shared.srv != nil {
		shared.srv.stop()
	}
	return code
}

// New returns a fresh bucket on the package's server, starting it first if
// needed. Without a server it skips the test, or fails it under CI=true.
func New(t testing.TB) Bucket {
	t.Helper()
	shared.once.Do(func() { shared.srv, shared.err = start() })
	if shared.err != nil {
		unavailable(t, shared.err)
	}
	name := "t-" + randomHex(8)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := shared.srv.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("s3test: create bucket %s: %v", name, err)
	}
	return Bucket{Server: shared.srv, Name: name}
}

// Client is an S3 client of the server, path style, for test assertions.
func (s *Server) Client() *s3.Client { return s.client }

func unavailable(t testing.TB, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("s3test: an S3 server is required under CI=true but could not start: %v", err)
	}
	t.Skipf("s3test: no S3 server (%v); set CI=true to make this a failure", err)
}

// Binary finds the versitygw binary, building it into the cache directory
// when it is nowhere else.
func Binary() (string, error) {
	if p := os.Getenv("VAULT_TEST_S3_BIN"); p != "" {
		if _, err := os.Stat(p); err != nil { //nolint:gosec // G703: the developer names the binary to run
			return "", fmt.Errorf("VAULT_TEST_S3_BIN=%s: %w", p, err)
		}
		return p, nil
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	dir, err := CacheDir()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "versitygw")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	return bin, build(dir, bin)
}

// CacheDir is where a built versitygw is kept, per version.
func CacheDir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory to build versitygw into: %w", err)
	}
	return filepath.Join(base, "securevault", "versitygw-"+Version), nil
}

// build runs `go install` into dir under an exclusive lock, so test
// packages starting at once build it once.
func build(dir, bin string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	lock, err := os.OpenFile(filepath.Clean(filepath.Join(dir, ".lock")), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer func() { _ = lock.Close() }()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock %s: %w", dir, err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) //nolint:errcheck // released on close anyway
	if _, err := os.Stat(bin); err == nil {
		return nil // another package built it while we waited
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("versitygw not found and no go tool to build it: %w", err)
	}
	fmt.Fprintf(os.Stderr, "s3test: building %s@%s into %s (once; a few minutes)\n", Module, Version, dir)
	cmd := exec.Command(goBin, "install", Module+"@"+Version) //nolint:gosec // G204: the go tool, installing a pinned module
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "CGO_ENABLED=0", "GOFLAGS=-mod=mod")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go install %s@%s: %w\n%s", Module, Version, err, out.String())
	}
	return nil
}

func start() (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	root, err := os.MkdirTemp("", "s3test-")
	if err != nil {
		return nil, err
	}
	var errs []error
	for range 3 { // a free port may be taken between probing and binding
		s, err := launch(bin, root)
		if err == nil {
			return s, nil
		}
		errs = append(errs, err)
	}
	_ = os.RemoveAll(root)
	return nil, errors.Join(errs...)
}

func launch(bin, root string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &Server{
		Endpoint:  fmt.Sprintf("http://127.0.0.1:%d", port),
		AccessKey: "AK" + randomHex(8),
		SecretKey: randomHex(20),
		Root:      root,
		done:      make(chan struct{}),
	}
	var out bytes.Buffer
	//nolint:gosec // G204: the S3 server Binary found or built, with keys and a directory of this process
	s.cmd = exec.Command(bin, "--access", s.AccessKey, "--secret", s.SecretKey,
		"--port", fmt.Sprintf("127.0.0.1:%d", port), "posix", root)
	s.cmd.Stdout, s.cmd.Stderr = &out, &out
	// The server dies with the test binary even if Run is not reached.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			_ = conn.Close()
			break
		}
		select {
		case <-s.done:
			return nil, fmt.Errorf("versitygw exited: %s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			s.kill()
			return nil, fmt.Errorf("versitygw did not listen on port %d within 30s: %s", port, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.client = s3.New(s3.Options{
		Region:       Region,
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
	})
	return s, nil
}

func (s *Server) kill() {
	if s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

func (s *Server) stop() {
	s.kill()
	_ = os.RemoveAll(s.Root)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Config is the s3blob configuration of the bucket, with the server's keys
// in place of the standard credential chain.
func (b Bucket) Config() s3blob.Config {
	return s3blob.Config{
		Bucket: b.Name, Endpoint: b.Endpoint, Region: Region, ForcePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(b.AccessKey, b.SecretKey, ""),
	}
}

// Env is the bucket as vaultd's environment (S3_* and AWS_* variables).
func (b Bucket) Env() map[string]string {
	return map[string]string{
		"S3_BUCKET": b.Name, "S3_ENDPOINT": b.Endpoint, "S3_REGION": Region, "S3_FORCE_PATH_STYLE": "true",
		"AWS_ACCESS_KEY_ID": b.AccessKey, "AWS_SECRET_ACCESS_KEY": b.SecretKey,
	}
}

// Start runs a server outside a test (cmd/vaultbench); Stop it when done.
func Start() (*Server, error) { return start() }

// Stop kills the server and removes its storage.
func (s *Server) Stop() { s.stop() }

// CreateBucket makes a bucket of the given name on the server.
func (s *Server) CreateBucket(ctx context.Context, name string) (Bucket, error) {
	if _, err := s.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		return Bucket{}, fmt.Errorf("s3test: create bucket %s: %w", name, err)
	}
	return Bucket{Server: s, Name: name}, nil
}
