package checkpoint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// JetStreamPublisher publishes checkpoints to <prefix>-checkpoints.<position>
// on a small stream of their own, <events stream>_CHECKPOINTS.
//
// Not on <prefix>.checkpoint: the events stream captures <prefix>.>, and
// the relay requires every message of that stream to be an event with a
// log position, chained by message id to the one before it. A stream of
// its own keeps every checkpoint (they are tiny) for auditors who subscribe
// late, which core NATS would not, and its message ids
// (checkpoint-<deployment>-<position>) make a repeated publish harmless.
type JetStreamPublisher struct {
	js       jetstream.JetStream
	stream   string
	subject  string
	timeout  time.Duration
	replicas int
	ready    bool
}

// PublisherOption tunes a JetStreamPublisher.
type PublisherOption func(*JetStreamPublisher)

// WithReplicas makes the checkpoint stream keep n replicas, like the events
// stream beside it: it is created with them and scaled up to them, never
// down.
func WithReplicas(n int) PublisherOption {
	return func(p *JetStreamPublisher) { p.replicas = max(n, 1) }
}

// NewJetStreamPublisher prepares a publisher for the events stream named
// eventsStream whose subjects start with subjectPrefix.
func NewJetStreamPublisher(nc *nats.Conn, eventsStream, subjectPrefix string, opts ...PublisherOption) (*JetStreamPublisher, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: jetstream context: %w", err)
	}
	p := &JetStreamPublisher{
		js:       js,
		stream:   StreamName(eventsStream),
		subject:  subjectPrefix + "-checkpoints",
		timeout:  5 * time.Second,
		replicas: 1,
	}
	for _, o := range opts {
		o(p)
	}
	return p, nil
}

// StreamName is the name of the checkpoint stream beside eventsStream.
func StreamName(eventsStream string) string { return eventsStream + "_CHECKPOINTS" }

// Latest returns the newest checkpoint on the stream (nil when there is
// none yet). Checkpoints are published in position order, so it is the
// stream's last message.
func (p *JetStreamPublisher) Latest(ctx context.Context) (*Checkpoint, error) {
	return latestOn(ctx, p.js, p.stream)
}

// LatestPublished reads the newest checkpoint published beside the events
// stream eventsStream, for an operator (vaultctl verify); nil when none.
func LatestPublished(ctx context.Context, nc *nats.Conn, eventsStream string) (*Checkpoint, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: jetstream context: %w", err)
	}
	return latestOn(ctx, js, StreamName(eventsStream))
}

func latestOn(ctx context.Context, js jetstream.JetStream, name string) (*Checkpoint, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	stream, err := js.Stream(ctx, name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look up stream %s: %w", name, err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("stream info of %s: %w", name, err)
	}
	if info.State.Msgs == 0 {
		return nil, nil
	}
	msg, err := stream.GetMsg(ctx, info.State.LastSeq)
	if err != nil {
		return nil, fmt.Errorf("read the last checkpoint of %s: %w", name, err)
	}
	c, err := Parse(msg.Data)
	if err != nil {
		return nil, fmt.Errorf("the last message of %s is not a checkpoint: %w", name, err)
	}
	return &c, nil
}

// Stream is the checkpoint stream's name; Subject its subject filter.
func (p *JetStreamPublisher) Stream() string  { return p.stream }
func (p *JetStreamPublisher) Subject() string { return p.subject + ".>" }

// ensureStream creates the checkpoint stream, or gives an existing one the
// subjects it needs and at least the configured replicas.
func (p *JetStreamPublisher) ensureStream(ctx context.Context) error {
	stream, err := p.js.Stream(ctx, p.stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		_, err = p.js.CreateStream(ctx, jetstream.StreamConfig{
			Name:        p.stream,
			Description: "Secure Vault signed chain checkpoints",
			Subjects:    []string{p.Subject()},
			Storage:     jetstream.FileStorage,
			Retention:   jetstream.LimitsPolicy,
			Duplicates:  time.Hour,
			Replicas:    p.replicas,
		})
		if err != nil && !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return fmt.Errorf("create stream %s: %w", p.stream, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("look up stream %s: %w", p.stream, err)
	}
	cfg := stream.CachedInfo().Config
	if slices.Equal(cfg.Subjects, []string{p.Subject()}) && cfg.Replicas >= p.replicas {
		return nil
	}
	cfg.Subjects, cfg.Replicas = []string{p.Subject()}, max(cfg.Replicas, p.replicas)
	if _, err := p.js.UpdateStream(ctx, cfg); err != nil {
		return fmt.Errorf("update stream %s: %w", p.stream, err)
	}
	return nil
}

// Publish sends one checkpoint and waits for the stream's acknowledgement.
func (p *JetStreamPublisher) Publish(ctx context.Context, c Checkpoint) error {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	if !p.ready {
		if err := p.ensureStream(ctx); err != nil {
			return err
		}
		p.ready = true
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return err
	}
	msg := nats.NewMsg(p.subject + "." + strconv.FormatInt(c.Position, 10))
	msg.Data = payload
	msg.Header.Set("Vault-Position", strconv.FormatInt(c.Position, 10))
	msg.Header.Set("Vault-Key-Id", c.KeyID)
	id := "checkpoint-" + strings.ReplaceAll(c.Deployment, " ", "_") + "-" + strconv.FormatInt(c.Position, 10)
	if _, err := p.js.PublishMsg(ctx, msg, jetstream.WithMsgID(id)); err != nil {
		return fmt.Errorf("publish checkpoint %d: %w", c.Position, err)
	}
	return nil
}
