package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// CPU time per request says what a request costs in a figure that the
// machine's noise barely moves: throughput on these two shared cores swings
// by a third from run to run, the CPU seconds a request takes do not. It
// also says what a ratio of throughputs can reach at best: when the cores
// are saturated, a request that costs k times the CPU of a raw INSERT runs
// at most 1/k of its rate.
//
// It is read from /proc: vaultd's own process (the embedded JetStream
// included), every process named postgres (the benchmark's backends, and
// whatever else the server does meanwhile: run it on an otherwise idle
// server), and the machine as a whole (the load generator included).

// clockTicks is USER_HZ, the unit of /proc's CPU times: 100 on every Linux
// architecture Go runs on (the kernel exports its own HZ only through it).
const clockTicks = 100

// cpuSample is the CPU time used so far.
type cpuSample struct {
	vaultd, postgres, machine time.Duration
}

func (s cpuSample) sub(o cpuSample) cpuSample {
	return cpuSample{vaultd: s.vaultd - o.vaultd, postgres: s.postgres - o.postgres, machine: s.machine - o.machine}
}

// perRequest formats each part of the sample as milliseconds per request.
func (s cpuSample) perRequest(requests int64, withVaultd bool) string {
	n := float64(max(requests, 1))
	ms := func(d time.Duration) string {
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond)/n, 'f', 3, 64)
	}
	vaultd := "-"
	if withVaultd {
		vaultd = ms(s.vaultd)
	}
	return vaultd + " / " + ms(s.postgres) + " / " + ms(s.machine)
}

// sampleCPU reads the CPU time of the process vaultdPID (0: none), of
// every postgres process and of the machine.
func sampleCPU(proc string, vaultdPID int) (cpuSample, error) {
	var s cpuSample
	stat, err := os.ReadFile(filepath.Join(proc, "stat")) //nolint:gosec // G304: procfs, or a test's copy of it
	if err != nil {
		return s, err
	}
	if s.machine, err = machineBusy(stat); err != nil {
		return s, err
	}
	entries, err := os.ReadDir(proc)
	if err != nil {
		return s, err
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue // not a process
		}
		line, err := os.ReadFile(filepath.Join(proc, e.Name(), "stat")) //nolint:gosec // G304: a process's stat file under procfs
		if err != nil {
			continue // it ended meanwhile
		}
		comm, used, err := processCPU(line)
		if err != nil {
			return s, fmt.Errorf("process %d: %w", pid, err)
		}
		switch {
		case pid == vaultdPID:
			s.vaultd = used
		case comm == "postgres":
			s.postgres += used
		}
	}
	return s, nil
}

// processCPU parses /proc/<pid>/stat: the command name and the user plus
// system time. The name is in parentheses and may hold spaces and
// parentheses itself, so the fields are counted from the last ")".
func processCPU(line []byte) (string, time.Duration, error) {
	open, end := bytes.IndexByte(line, '('), bytes.LastIndexByte(line, ')')
	if open < 0 || end < open {
		return "", 0, fmt.Errorf("no command name in %q", line)
	}
	// After the name: state (field 3), …, utime (14), stime (15).
	fields := strings.Fields(string(line[end+1:]))
	if len(fields) < 13 {
		return "", 0, fmt.Errorf("%d fields after the command name, want at least 13", len(fields))
	}
	var ticks int64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return "", 0, fmt.Errorf("CPU time %q: %w", f, err)
		}
		ticks += n
	}
	return string(line[open+1 : end]), ticksToDuration(ticks), nil
}

// machineBusy parses /proc/stat's first line: the time all CPUs spent
// on this machine's work: user, nice, system, irq and softirq (guest time
// is already inside user). Idle and I/O wait are not work; neither is
// steal, the time the hypervisor ran someone else while this machine
// waited.
func machineBusy(stat []byte) (time.Duration, error) {
	first, _, _ := bytes.Cut(stat, []byte("\n"))
	fields := strings.Fields(string(first))
	if len(fields) < 9 || fields[0] != "cpu" {
		return 0, fmt.Errorf("unexpected first line of /proc/stat: %q", first)
	}
	var ticks int64
	for i, f := range fields[1:8] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("CPU time %q: %w", f, err)
		}
		ticks += n
	}
	return ticksToDuration(ticks), nil
}

func ticksToDuration(ticks int64) time.Duration {
	return time.Duration(ticks) * time.Second / clockTicks
}
