package db

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ErrWriterClosed is returned for inserts submitted after the batch writer stopped.
var ErrWriterClosed = errors.New("db: batch writer closed")

// BatchWriter group-commits message inserts from every room: whatever arrives while one commit
// runs goes into the next transaction together. SQLite has one writer and each commit costs a
// WAL sync (an fsync with synchronous=FULL); one sync per batch instead of per message is what
// keeps storage from being the bottleneck under many concurrent senders.
type BatchWriter struct {
	store    *Store
	maxBatch int
	// committed, if set, hears of each transaction: how long it took (the WAL sync included)
	// and how many messages it stored.
	committed func(d time.Duration, messages int)
	reqs      chan *batchReq
	stop      chan struct{}
	done      chan struct{}
	// mu makes "closed" and "queued" exclusive: a request is either queued before Close
	// (and then committed by the drain) or refused, never stranded in the channel.
	mu     sync.RWMutex
	closed bool
}

type batchReq struct {
	msgs []*Message
	err  chan error
}

// NewBatchWriter starts a group-commit writer; maxBatch caps messages per transaction.
// committed (may be nil) is called after each transaction, on the writer's goroutine.
func NewBatchWriter(s *Store, maxBatch int, committed func(d time.Duration, messages int)) *BatchWriter {
	if maxBatch <= 0 {
		maxBatch = 1024
	}
	w := &BatchWriter{store: s, maxBatch: maxBatch, committed: committed, reqs: make(chan *batchReq, 1024),
		stop: make(chan struct{}), done: make(chan struct{})}
	go w.run()
	return w
}

// Insert stores msgs (in order, filling their ids) and returns once they are committed.
func (w *BatchWriter) Insert(ctx context.Context, msgs []*Message) error {
	if len(msgs) == 0 {
		return nil
	}
	req := &batchReq{msgs: msgs, err: make(chan error, 1)}
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		return ErrWriterClosed
	}
	select {
	case w.reqs <- req:
		w.mu.RUnlock()
	case <-ctx.Done():
		w.mu.RUnlock()
		return ctx.Err()
	}
	// Once queued, wait for the outcome even if ctx ends: the insert may already be committed,
	// and the caller must not broadcast or forget a message whose fate it does not know.
	return <-req.err
}

// Close stops the writer after committing everything already queued.
func (w *BatchWriter) Close() {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.stop)
	}
	w.mu.Unlock()
	<-w.done
}

func (w *BatchWriter) run() {
	defer close(w.done)
	var pending []*batchReq
	for {
		select {
		case req := <-w.reqs:
			pending = append(pending[:0], req)
		case <-w.stop:
			// Drain what was queued before Close.
			for {
				select {
				case req := <-w.reqs:
					w.commit([]*batchReq{req})
				default:
					return
				}
			}
		}
		n := len(pending[0].msgs)
	gather:
		for n < w.maxBatch {
			select {
			case req := <-w.reqs:
				pending = append(pending, req)
				n += len(req.msgs)
			default:
				break gather
			}
		}
		w.commit(pending)
		clear(pending)
	}
}

func (w *BatchWriter) commit(reqs []*batchReq) {
	all := make([]*Message, 0, len(reqs))
	for _, r := range reqs {
		all = append(all, r.msgs...)
	}
	start := time.Now()
	err := w.store.InsertMessages(context.Background(), all)
	if err == nil && w.committed != nil {
		w.committed(time.Since(start), len(all))
	}
	if err != nil && len(reqs) > 1 {
		// One bad message (say, for a room deleted meanwhile) must not fail its neighbours,
		// possibly from other rooms: retry each request in its own transaction.
		for _, r := range reqs {
			r.err <- w.store.InsertMessages(context.Background(), r.msgs)
		}
		return
	}
	for _, r := range reqs {
		r.err <- err
	}
}
