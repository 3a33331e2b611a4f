package eventstore

import (
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/securevault/vault/domain"
)

// pendingRow is one event as it will be inserted.
type pendingRow struct {
	position      int64
	streamID      string
	version       int64
	eventID       uuid.UUID
	eventType     string
	schemaVersion int32
	data          string
	metadata      string
	prevHash      []byte
	hash          []byte
}

// storedEvent is what the idempotency check needs of an event already stored.
type storedEvent struct {
	position int64
	streamID string
	version  int64
}

// planBatch decides every request of the batch in order against the state
// the batch has reached, and returns their outcomes, the rows to insert and
// the last of them. With seal, the batch starts with the ChainKeyed event:
// the first keyed link after an unkeyed head.
func (s *Store) planBatch(batch []*appendRequest, versions map[string]int64, stored map[uuid.UUID]storedEvent,
	head chainHead, now time.Time, seal bool) ([]appendOutcome, []pendingRow, pendingRow) {
	outcomes := make([]appendOutcome, len(batch))
	var rows []pendingRow
	position, prevHash := head.position, head.hash
	if seal {
		row := s.sealRow(head, now)
		rows = append(rows, row)
		position, prevHash = row.position, row.hash
	}
	for i, r := range batch {
		if len(r.appends) == 0 {
			// A Seal request: it reports where the seal went, if this
			// batch wrote one.
			if seal {
				outcomes[i] = appendOutcome{result: domain.AppendResult{LastPosition: rows[0].position}}
			}
			continue
		}
		out, newRows := s.planAppend(r.appends, versions, stored, position, prevHash, now)
		outcomes[i] = out
		if len(newRows) > 0 {
			rows = append(rows, newRows...)
			last := newRows[len(newRows)-1]
			position, prevHash = last.position, last.hash
		}
	}
	var last pendingRow
	if len(rows) > 0 {
		last = rows[len(rows)-1]
	}
	return outcomes, rows, last
}

// sealRow is the ChainKeyed event right after an unkeyed head. Its keyed
// link covers the head's SHA-256 hash, so it commits to every event before.
func (s *Store) sealRow(head chainHead, now time.Time) pendingRow {
	data, _ := json.Marshal(domain.ChainKeyed{ // a struct of plain fields always encodes
		SealedPosition: head.position, SealedHash: hex.EncodeToString(head.hash), KeyID: s.keys.CurrentID(),
	})
	metadata, _ := json.Marshal(domain.Metadata{Actor: domain.SystemActor})
	row := pendingRow{
		position: head.position + 1, streamID: domain.ChainSealStream, version: 1, eventID: uuid.New(),
		eventType: domain.EventChainKeyed, schemaVersion: domain.ChainKeyedSchemaVersion,
		data: string(data), metadata: string(metadata), prevHash: head.hash,
	}
	row.hash = s.link(&row, data, metadata, now)
	return row
}

// link computes a new row's keyed link under the current key.
func (s *Store) link(r *pendingRow, data, metadata []byte, now time.Time) []byte {
	return keyedLink(s.keys.current, r.prevHash, &linkFields{
		position: r.position, streamID: r.streamID, version: r.version, eventID: r.eventID,
		eventType: r.eventType, schemaVersion: r.schemaVersion, data: data, metadata: metadata, recordedAt: now,
	})
}

// currentVersions reads each stream's last version with one backward index
// probe per stream, however long the stream is.
const currentVersions = `SELECT s.id, e.version
FROM unnest($1::text[]) AS s(id)
CROSS JOIN LATERAL (
  SELECT version FROM events WHERE stream_id = s.id ORDER BY version DESC LIMIT 1
) AS e`

// insertEvents takes the columns below as parallel arrays; recorded-at and
// the key id are one value for the whole batch.
const insertEvents = `INSERT INTO events
  (position, stream_id, version, event_id, type, schema_version, data, metadata, recorded_at, prev_hash, hash, hash_key_id)
SELECT p, s, v, id, t, sv, d, m, $9, ph, h, $12
FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::uuid[], $5::text[], $6::int[], $7::json[], $8::json[], $10::bytea[], $11::bytea[])
  AS u(p, s, v, id, t, sv, d, m, ph, h)`

func (s *Store) columns(rows []pendingRow, recordedAt time.Time) []any {
	n := len(rows)
	positions, versions := make([]int64, n), make([]int64, n)
	streams, types, data, metadata := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	ids := make([]uuid.UUID, n)
	schemaVersions := make([]int32, n)
	prevHashes, hashes := make([][]byte, n), make([][]byte, n)
	for i, r := range rows {
		positions[i], streams[i], versions[i], ids[i] = r.position, r.streamID, r.version, r.eventID
		types[i], schemaVersions[i], data[i], metadata[i] = r.eventType, r.schemaVersion, r.data, r.metadata
		prevHashes[i], hashes[i] = r.prevHash, r.hash
	}
	return []any{positions, streams, versions, ids, types, schemaVersions, data, metadata, recordedAt, prevHashes, hashes, s.keys.CurrentID()}
}

// planAppend decides one request against the state the batch has reached and
// returns its outcome and the rows to insert. It updates versions and stored
// so later requests in the same batch see this one's effect.
func (s *Store) planAppend(appends []preparedAppend, versions map[string]int64, stored map[uuid.UUID]storedEvent,
	position int64, prevHash []byte, now time.Time) (appendOutcome, []pendingRow) {
	total, already := 0, 0
	var lastStored storedEvent
	for _, a := range appends {
		for _, e := range a.events {
			total++
			if ev, ok := stored[e.id]; ok {
				already++
				if ev.position > lastStored.position {
					lastStored = ev
				}
			}
		}
	}
	if already == total {
		result := domain.AppendResult{LastPosition: lastStored.position, Versions: make(map[string]int64)}
		for _, a := range appends {
			result.Versions[a.streamID] = versions[a.streamID]
		}
		return appendOutcome{result: result}, nil
	}
	if already > 0 {
		return appendOutcome{err: domain.Errorf(domain.ECONFLICT, "%d of the %d events in this append are already stored; an append is stored whole or not at all", already, total)}, nil
	}
	for _, a := range appends {
		current := versions[a.streamID]
		if a.expected != domain.ExpectAny && int64(a.expected) != current {
			if a.expected == domain.ExpectNoStream {
				return appendOutcome{err: domain.Errorf(domain.ECONFLICT, "stream %s already exists", a.streamID)}, nil
			}
			return appendOutcome{err: domain.Errorf(domain.ECONFLICT, "stream %s is at version %d, not the expected %d", a.streamID, current, a.expected)}, nil
		}
	}

	var rows []pendingRow
	result := domain.AppendResult{Versions: make(map[string]int64, len(appends))}
	for _, a := range appends {
		version := versions[a.streamID]
		for _, e := range a.events {
			position++
			version++
			row := pendingRow{
				position: position, streamID: a.streamID, version: version, eventID: e.id,
				eventType: e.eventType, schemaVersion: e.schemaVersion,
				data: string(e.data), metadata: string(e.metadata), prevHash: prevHash,
			}
			row.hash = s.link(&row, e.data, e.metadata, now)
			prevHash = row.hash
			rows = append(rows, row)
			stored[e.id] = storedEvent{position: position, streamID: a.streamID, version: version}
		}
		versions[a.streamID] = version
		result.Versions[a.streamID] = version
	}
	result.LastPosition, result.RecordedAt = position, now
	return appendOutcome{result: result}, rows
}
