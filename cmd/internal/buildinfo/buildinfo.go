// Package buildinfo holds the version the binaries were built as. The
// Makefile and the Dockerfile set it with
//
//	-ldflags "-X github.com/securevault/vault/cmd/internal/buildinfo.version=$(VERSION)"
//
// (by default `git describe --tags --always --dirty`); a plain `go build`
// leaves "dev".
package buildinfo

// version is written by the linker only; nothing assigns it at run time.
var version = "dev"

// Version is the version the binary was built as.
func Version() string {
	if version == "" {
		return "dev"
	}
	return version
}
