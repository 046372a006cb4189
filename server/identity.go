package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// identity is who a node is in its cluster. It is written once, when the node initializes
// a cluster or joins one, and read at every start.
type identity struct {
	ClusterID string `json:"cluster_id"`
	NodeID    uint64 `json:"node_id"`
}

const identityFile = "node.json"

// loadIdentity reads the node's identity from its store directory; a node that has never
// been part of a cluster has none (nil, nil).
func loadIdentity(dir string) (*identity, error) {
	b, err := os.ReadFile(filepath.Join(dir, identityFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading node identity: %w", err)
	}
	var id identity
	if err := json.Unmarshal(b, &id); err != nil || id.NodeID == 0 {
		return nil, fmt.Errorf("corrupt node identity in %s: %q", filepath.Join(dir, identityFile), b)
	}
	return &id, nil
}

// saveIdentity writes the identity durably (write, sync, rename, sync the directory), so
// that a crash leaves either no identity or the whole one.
func saveIdentity(dir string, id identity) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.Marshal(id)
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, identityFile+".tmp")
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, identityFile)); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
