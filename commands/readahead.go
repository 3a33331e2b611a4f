package commands

import (
	"errors"
	"io"
	"sync"
)

// Read-ahead of a download's blob: the next chunks are fetched while the
// current one is verified and sent, at most depth × chunk bytes buffered.
const (
	readAheadChunk = 1 << 20
	readAheadDepth = 4
)

// readAhead reads src in a goroutine of its own into a bounded queue of
// chunks. Close stops it and closes src.
type readAhead struct {
	src    io.ReadCloser
	chunks chan []byte
	free   chan []byte
	done   chan struct{}
	once   sync.Once
	wg     sync.WaitGroup
	err    error // set before chunks is closed
	cur    []byte
	buf    []byte
}

func newReadAhead(src io.ReadCloser) *readAhead {
	r := &readAhead{
		src:    src,
		chunks: make(chan []byte, readAheadDepth),
		free:   make(chan []byte, readAheadDepth+1),
		done:   make(chan struct{}),
	}
	for range readAheadDepth + 1 {
		r.free <- make([]byte, readAheadChunk)
	}
	r.wg.Go(r.fill)
	return r
}

func (r *readAhead) fill() {
	defer close(r.chunks)
	for {
		var buf []byte
		select {
		case buf = <-r.free:
		case <-r.done:
			return
		}
		n, err := io.ReadFull(r.src, buf)
		if n > 0 {
			select {
			case r.chunks <- buf[:n]:
			case <-r.done:
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				r.err = err
			}
			return
		}
	}
}

func (r *readAhead) Read(p []byte) (int, error) {
	for len(r.cur) == 0 {
		if r.buf != nil {
			r.free <- r.buf[:cap(r.buf)]
			r.buf = nil
		}
		chunk, ok := <-r.chunks
		if !ok {
			if r.err != nil {
				return 0, r.err
			}
			return 0, io.EOF
		}
		r.buf, r.cur = chunk, chunk
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

func (r *readAhead) Close() error {
	var err error
	r.once.Do(func() {
		close(r.done)
		err = r.src.Close()
		r.wg.Wait()
	})
	return err
}
