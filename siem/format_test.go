package siem_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/relay"
	"github.com/securevault/vault/siem"
)

// hostile carries every character some format must escape.
const hostile = "a|b\\c=d\"e]f\ng\rh"

func envelope(typ string, data string, md domain.Metadata) []byte {
	b, err := json.Marshal(relay.Envelope{
		Position:      42,
		StreamID:      "user-7f0c",
		Version:       3,
		EventID:       "0b9a4c1e-54b1-4f0e-9a43-2f8f7f4c7b10",
		Type:          typ,
		SchemaVersion: 1,
		Data:          json.RawMessage(data),
		Metadata:      md,
		RecordedAt:    time.Date(2026, 3, 4, 5, 6, 7, 123456789, time.UTC),
	})
	if err != nil {
		panic(err)
	}
	return b
}

func TestFormatsGolden(t *testing.T) {
	t.Parallel()
	plain := domain.Metadata{Actor: "u-1", ActorName: "alice", ClientIP: "10.0.0.5", UserAgent: "curl/8.5", RequestID: "req-1", CorrelationID: "corr-1"}
	evil := domain.Metadata{Actor: "u-2", ActorName: hostile, ClientIP: "2001:db8::1", UserAgent: hostile, RequestID: hostile}
	system := domain.Metadata{Actor: domain.SystemActor, ClientIP: "not-an-ip"}

	cases := []struct {
		name   string
		format string
		typ    string
		data   string
		md     domain.Metadata
		want   string
	}{
		{
			name: "ecs login failed", format: siem.FormatECS, typ: domain.EventLoginFailed,
			data: `{"reason": "bad_password", "sealed_hash": "AAAA"}`, md: plain,
			want: `{"@timestamp":"2026-03-04T05:06:07.123456789Z","ecs":{"version":"8.11.0"},"event":{"kind":"event","category":["authentication","session"],"type":["start"],"action":"LoginFailed","outcome":"failure","id":"0b9a4c1e-54b1-4f0e-9a43-2f8f7f4c7b10","sequence":42,"severity":7,"provider":"securevault","dataset":"securevault.events"},"user":{"id":"u-1","name":"alice"},"source":{"ip":"10.0.0.5"},"user_agent":{"original":"curl/8.5"},"http":{"request":{"id":"req-1"}},"service":{"name":"securevault","type":"vault"},"labels":{"correlation_id":"corr-1"},"vault":{"stream_id":"user-7f0c","stream_version":3,"aggregate":"user","schema_version":1,"data":{"reason":"bad_password"}}}`,
		},
		{
			name: "ecs system event with an unparseable ip", format: siem.FormatECS, typ: domain.EventUserCreated,
			data: `{}`, md: system,
			want: `{"@timestamp":"2026-03-04T05:06:07.123456789Z","ecs":{"version":"8.11.0"},"event":{"kind":"event","category":["iam"],"type":["user","creation"],"action":"UserCreated","outcome":"success","id":"0b9a4c1e-54b1-4f0e-9a43-2f8f7f4c7b10","sequence":42,"severity":3,"provider":"securevault","dataset":"securevault.events"},"user":{"id":"system"},"service":{"name":"securevault","type":"vault"},"labels":{"client_ip":"not-an-ip"},"vault":{"stream_id":"user-7f0c","stream_version":3,"aggregate":"user","schema_version":1,"data":{}}}`,
		},
		{
			name: "cef login succeeded", format: siem.FormatCEF, typ: domain.EventLoginSucceeded,
			data: `{"method":"password"}`, md: plain,
			want: `CEF:0|SecureVault|vault|1.2.3|LoginSucceeded|Login succeeded|3|rt=1772600767123 externalId=0b9a4c1e-54b1-4f0e-9a43-2f8f7f4c7b10 act=LoginSucceeded outcome=success suid=u-1 suser=alice src=10.0.0.5 requestClientApplication=curl/8.5 cn1=42 cn1Label=position cs1=req-1 cs1Label=requestId cs2=user-7f0c cs2Label=streamId cs3=corr-1 cs3Label=correlationId cs4={"method":"password"} cs4Label=data`,
		},
		{
			name: "cef escaping and ipv6", format: siem.FormatCEF, typ: "Odd|Type\\X",
			data: `{"k":"v=1"}`, md: evil,
			want: `CEF:0|SecureVault|vault|1.2.3|Odd\|Type\\X|Odd\| type\\ x|3|rt=1772600767123 externalId=0b9a4c1e-54b1-4f0e-9a43-2f8f7f4c7b10 act=Odd|Type\\X outcome=success suid=u-2 suser=a|b\\c\=d"e]f\ng\rh c6a2=2001:db8::1 c6a2Label=Source IPv6 Address requestClientApplication=a|b\\c\=d"e]f\ng\rh cn1=42 cn1Label=position cs1=a|b\\c\=d"e]f\ng\rh cs1Label=requestId cs2=user-7f0c cs2Label=streamId cs4={"k":"v\=1"} cs4Label=data`,
		},
		{
			name: "syslog access denied", format: siem.FormatSyslog, typ: domain.EventAccessDenied,
			data: `{"action":"reveal","resource":"secret/db"}`, md: plain,
			want: `<84>1 2026-03-04T05:06:07.123456Z vault-host securevault - AccessDenied [vault@32473 position="42" event_id="0b9a4c1e-54b1-4f0e-9a43-2f8f7f4c7b10" stream_id="user-7f0c" version="3" type="AccessDenied" outcome="failure" actor="u-1" actor_name="alice" client_ip="10.0.0.5" user_agent="curl/8.5" request_id="req-1" correlation_id="corr-1"] {"action":"reveal","resource":"secret/db"}`,
		},
		{
			name: "syslog escaping", format: siem.FormatSyslog, typ: domain.EventRefreshReuseDetected,
			data: `{}`, md: evil,
			want: `<82>1 2026-03-04T05:06:07.123456Z vault-host securevault - RefreshReuseDetected [vault@32473 position="42" event_id="0b9a4c1e-54b1-4f0e-9a43-2f8f7f4c7b10" stream_id="user-7f0c" version="3" type="RefreshReuseDetected" outcome="failure" actor="u-2" actor_name="a|b\\c=d\"e\]f\ng\rh" client_ip="2001:db8::1" user_agent="a|b\\c=d\"e\]f\ng\rh" request_id="a|b\\c=d\"e\]f\ng\rh"] {}`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, err := siem.NewFormatter(tc.format, siem.FormatOptions{ProductVersion: "1.2.3", Hostname: "vault-host"})
			require.NoError(t, err)
			ev, err := siem.Decode(envelope(tc.typ, tc.data, tc.md))
			require.NoError(t, err)
			got, err := f.Format(ev)
			require.NoError(t, err)
			require.Equal(t, tc.want, string(got))
			require.NotContains(t, string(got), "\n", "one event is one line")
			require.NotContains(t, string(got), "sealed_")
		})
	}
}

func TestOutcome(t *testing.T) {
	t.Parallel()
	for typ, want := range map[string]string{
		domain.EventLoginFailed:          siem.OutcomeFailure,
		domain.EventAccessDenied:         siem.OutcomeFailure,
		domain.EventRefreshReuseDetected: siem.OutcomeFailure,
		domain.EventLoginSucceeded:       siem.OutcomeSuccess,
		domain.EventSecretRevealed:       siem.OutcomeSuccess,
	} {
		t.Run(typ, func(t *testing.T) {
			ev, err := siem.Decode(envelope(typ, `{}`, domain.Metadata{}))
			require.NoError(t, err)
			require.Equal(t, want, ev.Outcome())
		})
	}
}

func TestDecodeDropsSealedFieldsAtAnyDepth(t *testing.T) {
	t.Parallel()
	ev, err := siem.Decode(envelope("SecretVersionAdded", `{"a":1,"nested":{"sealed_value":"x","b":[{"sealed_key":"y","c":2}]}}`, domain.Metadata{}))
	require.NoError(t, err)
	require.JSONEq(t, `{"a":1,"nested":{"b":[{"c":2}]}}`, string(ev.Data))
}

func TestDecodeRejectsForeignMessages(t *testing.T) {
	t.Parallel()
	for name, payload := range map[string]string{
		"not json":    "hello",
		"no position": `{"event_id":"x","type":"T"}`,
		"no type":     `{"position":1,"event_id":"x"}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := siem.Decode([]byte(payload))
			require.Error(t, err)
		})
	}
}

func TestNewFormatterRejectsBadOptions(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		format string
		opts   siem.FormatOptions
	}{
		{"unknown format", "leef", siem.FormatOptions{}},
		{"facility out of range", siem.FormatSyslog, siem.FormatOptions{Facility: 24}},
		{"sd id with a space", siem.FormatSyslog, siem.FormatOptions{SDID: "a b"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := siem.NewFormatter(tc.format, tc.opts)
			require.Error(t, err)
		})
	}
}
