package docker

import (
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"berth/driver"

	bolt "go.etcd.io/bbolt"
)

// state is what one engine cannot hold in labels, which never change after
// create: containers' activity and services' definitions. It lives in
// memory, written through to a bbolt file when the driver has one.
type state struct {
	mu       sync.RWMutex
	activity map[string]activity      // by container ID
	services map[string]serviceRecord // by service name
	db       *bolt.DB                 // nil: memory only
}

// activity is the mutable part of a container's record.
type activity struct {
	LastActivity time.Time `json:"last_activity"`
	CheckedInAt  time.Time `json:"checked_in_at,omitzero"`
	Active       bool      `json:"active"`
	written      time.Time // when this process last wrote the record
}

// serviceRecord is a service's definition: the spec its replicas are built
// from, and which generation of it they must run.
type serviceRecord struct {
	Spec       driver.ServiceSpec `json:"spec"`
	Generation int                `json:"generation"`
	Created    time.Time          `json:"created"`
	Updated    time.Time          `json:"updated"`
}

var (
	activityBucket = []byte("activity")
	servicesBucket = []byte("services")
)

// openState loads the state from path, or makes a memory-only state when
// path is empty.
func openState(path string) (*state, error) {
	s := &state{activity: map[string]activity{}, services: map[string]serviceRecord{}}
	if path == "" {
		return s, nil
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("state file %s: %w (is another Berth using it?)", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		return load(tx, activityBucket, s.activity, load(tx, servicesBucket, s.services, nil))
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	s.db = db
	return s, nil
}

// load reads bucket into m, unless an earlier load failed.
func load[T any](tx *bolt.Tx, bucket []byte, m map[string]T, earlier error) error {
	if earlier != nil {
		return earlier
	}
	b, err := tx.CreateBucketIfNotExists(bucket)
	if err != nil {
		return err
	}
	return b.ForEach(func(k, v []byte) error {
		var rec T
		if json.Unmarshal(v, &rec) == nil {
			m[string(k)] = rec
		}
		return nil
	})
}

// persist writes (or, for a nil value, deletes) keys of bucket.
func (s *state) persist(bucket []byte, values map[string]any) error {
	if s.db == nil {
		return nil
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		for k, v := range values {
			if v == nil {
				if err := b.Delete([]byte(k)); err != nil {
					return err
				}
				continue
			}
			raw, err := json.Marshal(v)
			if err == nil {
				err = b.Put([]byte(k), raw)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *state) getActivity(id string) activity {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.activity[id]
}

// updateActivity applies change to id's record and persists it.
func (s *state) updateActivity(id string, change func(*activity)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.activity[id]
	change(&a)
	a.written = time.Now()
	s.activity[id] = a
	return s.persist(activityBucket, map[string]any{id: a})
}

// forgetActivity drops the records of ids.
func (s *state) forgetActivity(ids ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	gone := map[string]any{}
	for _, id := range ids {
		delete(s.activity, id)
		gone[id] = nil
	}
	return s.persist(activityBucket, gone)
}

// staleActivity returns the IDs that are not in live and were not written
// since since: records of containers removed behind Berth's back.
func (s *state) staleActivity(live map[string]bool, since time.Time) []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var ids []string
	for id, a := range s.activity {
		if !live[id] && a.written.Before(since) {
			ids = append(ids, id)
		}
	}
	return ids
}

func (s *state) getService(name string) (serviceRecord, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	rec, ok := s.services[name]
	return rec, ok
}

func (s *state) listServices() []serviceRecord {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]serviceRecord, 0, len(s.services))
	for _, rec := range s.services {
		out = append(out, rec)
	}
	return out
}

// putService stores rec; with create set, a name already taken is an error.
func (s *state) putService(rec serviceRecord, create bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, taken := s.services[rec.Spec.Name]; create && taken {
		return fmt.Errorf("%w: service name %q is already in use", driver.ErrConflict, rec.Spec.Name)
	}
	s.services[rec.Spec.Name] = rec
	return s.persist(servicesBucket, map[string]any{rec.Spec.Name: rec})
}

func (s *state) deleteService(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.services, name)
	return s.persist(servicesBucket, map[string]any{name: nil})
}

func (s *state) close() error {
	if s.db == nil {
		return nil
	}
	return s.db.Close()
}
