package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// statLine is a /proc/<pid>/stat line with the given name, utime and stime
// (fields 14 and 15) and made-up values elsewhere.
func statLine(comm string, utime, stime string) string {
	return "4242 (" + comm + ") S 1 4242 4242 0 -1 4194560 1969 0 0 0 " + utime + " " + stime + " 0 0 20 0 1 0 12345 1000 100 18446744073709551615\n"
}

func TestProcessCPU(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		line     string
		wantComm string
		want     time.Duration
		wantErr  string
	}{
		{"plain", statLine("postgres", "250", "50"), "postgres", 3 * time.Second, ""},
		{"name with spaces and parentheses", statLine("a (b) c", "1", "2"), "a (b) c", 30 * time.Millisecond, ""},
		{"no name", "4242 postgres S 1", "", 0, "no command name"},
		{"truncated", "4242 (postgres) S 1 2 3", "", 0, "fields after the command name"},
		{"not a number", statLine("vaultd", "x", "1"), "", 0, "CPU time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			comm, used, err := processCPU([]byte(tt.line))
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.wantComm, comm)
			require.Equal(t, tt.want, used)
		})
	}
}

func TestMachineBusy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		stat    string
		want    time.Duration
		wantErr string
	}{
		// user nice system idle iowait irq softirq steal guest guest_nice:
		// idle, iowait and steal are left out, guest is inside user already.
		{"busy time", "cpu  100 10 50 9000 400 5 3 2 7 0\ncpu0 1 2 3 4 5 6 7 8 9 0\n", 1680 * time.Millisecond, ""},
		{"not the cpu line", "intr 1 2 3 4 5 6 7 8 9\n", 0, "unexpected first line"},
		{"too short", "cpu 1 2 3\n", 0, "unexpected first line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := machineBusy([]byte(tt.stat))
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestSampleCPUSplitsVaultdPostgresAndTheMachine(t *testing.T) {
	t.Parallel()
	proc := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(proc, name)), 0o750))
		require.NoError(t, os.WriteFile(filepath.Join(proc, name), []byte(content), 0o600))
	}
	write("stat", "cpu  1000 0 500 100000 0 0 0 0 0 0\n")
	write("100/stat", statLine("vaultd", "300", "100"))
	write("200/stat", statLine("postgres", "40", "10"))
	write("201/stat", statLine("postgres", "5", "5"))
	write("300/stat", statLine("wrk", "70", "0"))
	write("self/stat", statLine("vaultbench", "1", "1"))               // not a pid: skipped
	require.NoError(t, os.MkdirAll(filepath.Join(proc, "400"), 0o750)) // ended meanwhile: skipped

	got, err := sampleCPU(proc, 100)
	require.NoError(t, err)
	require.Equal(t, cpuSample{vaultd: 4 * time.Second, postgres: 600 * time.Millisecond, machine: 15 * time.Second}, got)

	before := cpuSample{vaultd: time.Second, postgres: 100 * time.Millisecond, machine: 5 * time.Second}
	require.Equal(t, "3.000 / 0.500 / 10.000", got.sub(before).perRequest(1000, true))
	require.Equal(t, "- / 0.250 / 5.000", got.sub(before).perRequest(2000, false))
}
