package docker

import (
	"encoding/json"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// activity is the mutable part of a container's record. Engine labels cannot
// change after create, so on one engine it lives here: in memory, written
// through to a bbolt file when the driver has one.
type activity struct {
	LastActivity time.Time `json:"last_activity"`
	CheckedInAt  time.Time `json:"checked_in_at,omitzero"`
	Active       bool      `json:"active"`
	written      time.Time // when this process last wrote the record
}

var activityBucket = []byte("activity")

type activityStore struct {
	mu   sync.RWMutex
	recs map[string]activity
	db   *bolt.DB // nil: memory only
}

// openActivity loads the store from path, or makes a memory-only store when
// path is empty.
func openActivity(path string) (*activityStore, error) {
	s := &activityStore{recs: map[string]activity{}}
	if path == "" {
		return s, nil
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("activity file %s: %w (is another Berth using it?)", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(activityBucket)
		if err != nil {
			return err
		}
		return b.ForEach(func(k, v []byte) error {
			var a activity
			if json.Unmarshal(v, &a) == nil {
				s.recs[string(k)] = a
			}
			return nil
		})
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("activity file %s: %w", path, err)
	}
	s.db = db
	return s, nil
}

func (s *activityStore) get(id string) activity {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.recs[id]
}

// update applies change to id's record and persists it.
func (s *activityStore) update(id string, change func(*activity)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.recs[id]
	change(&a)
	a.written = time.Now()
	s.recs[id] = a
	if s.db == nil {
		return nil
	}
	v, _ := json.Marshal(a)
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(activityBucket).Put([]byte(id), v)
	})
}

// forget drops the records of ids.
func (s *activityStore) forget(ids ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		delete(s.recs, id)
	}
	if s.db == nil {
		return nil
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(activityBucket)
		for _, id := range ids {
			if err := b.Delete([]byte(id)); err != nil {
				return err
			}
		}
		return nil
	})
}

// stale returns the IDs that are not in live and were not written since
// since: records of containers removed behind Berth's back.
func (s *activityStore) stale(live map[string]bool, since time.Time) []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var ids []string
	for id, a := range s.recs {
		if !live[id] && a.written.Before(since) {
			ids = append(ids, id)
		}
	}
	return ids
}

func (s *activityStore) close() error {
	if s.db == nil {
		return nil
	}
	return s.db.Close()
}
