package server

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/meridiandb/meridian/hlc"
	"github.com/meridiandb/meridian/ranges"
	"github.com/meridiandb/meridian/sql"
	"github.com/meridiandb/meridian/sql/catalog"
	"github.com/meridiandb/meridian/txn"
	"github.com/meridiandb/meridian/wire"
)

// Config configures a node.
type Config struct {
	// StoreDir holds the node's data; it is created if missing.
	StoreDir string
	// ListenAddr is the SQL (PostgreSQL wire) address, e.g. "127.0.0.1:26257"; port 0 picks one.
	ListenAddr string
	// HTTPAddr is the HTTP status address; "" disables it.
	HTTPAddr string
	// Password, when set, is required from every SQL user (cleartext password authentication).
	Password string
	// MaxOffset is the largest clock offset tolerated between nodes.
	MaxOffset time.Duration
	Logger    *slog.Logger
}

// Node is a running Meridian node.
type Node struct {
	cfg    Config
	log    *slog.Logger
	store  *ranges.Store
	db     *txn.DB
	wire   *wire.Server
	sqlLn  net.Listener
	httpLn net.Listener
	http   *http.Server

	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// Start opens the store and starts serving. The context bounds start-up only.
func Start(ctx context.Context, cfg Config) (_ *Node, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxOffset == 0 {
		cfg.MaxOffset = hlc.DefaultMaxOffset
	}
	n := &Node{cfg: cfg, log: cfg.Logger}
	defer func() {
		if err != nil {
			n.Stop()
		}
	}()
	clock := hlc.NewClock(hlc.UnixNano, cfg.MaxOffset)
	n.store, err = ranges.OpenStore(ctx, ranges.StoreConfig{Dir: cfg.StoreDir, NodeID: 1, StoreID: 1, Clock: clock, Logger: cfg.Logger})
	if err != nil {
		return nil, fmt.Errorf("opening store in %s: %w", cfg.StoreDir, err)
	}
	n.db = txn.NewDB(n.store, n.store, clock, cfg.Logger)
	cat := catalog.New()
	if err := cat.Bootstrap(ctx, n.db); err != nil {
		return nil, fmt.Errorf("bootstrapping the catalog: %w", err)
	}
	sqlSrv := sql.NewServer(sql.Config{DB: n.db, Catalog: cat, NodeID: 1, Logger: cfg.Logger})
	wcfg := wire.Config{NewBackend: sqlSrv.NewBackend, Logger: cfg.Logger}
	if cfg.Password != "" {
		wcfg.Auth = passwordAuth(cfg.Password)
	}
	n.wire = wire.NewServer(wcfg)
	if n.sqlLn, err = net.Listen("tcp", cfg.ListenAddr); err != nil {
		return nil, fmt.Errorf("listening for SQL on %s: %w", cfg.ListenAddr, err)
	}
	if cfg.HTTPAddr != "" {
		if n.httpLn, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
			return nil, fmt.Errorf("listening for HTTP on %s: %w", cfg.HTTPAddr, err)
		}
	}
	runCtx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if err := n.wire.Serve(runCtx, n.sqlLn); err != nil && runCtx.Err() == nil {
			n.log.Error("SQL server stopped", "err", err)
		}
	}()
	if n.httpLn != nil {
		n.http = &http.Server{Handler: n.httpHandler(), ReadHeaderTimeout: 10 * time.Second}
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			if err := n.http.Serve(n.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				n.log.Error("HTTP server stopped", "err", err)
			}
		}()
	}
	return n, nil
}

// SQLAddr is the address the SQL listener is bound to.
func (n *Node) SQLAddr() string { return n.sqlLn.Addr().String() }

// HTTPAddr is the address the HTTP listener is bound to, or "" if there is none.
func (n *Node) HTTPAddr() string {
	if n.httpLn == nil {
		return ""
	}
	return n.httpLn.Addr().String()
}

// SQLURL is a connection URL for the node's default database.
func (n *Node) SQLURL(user string) string {
	auth := user
	if n.cfg.Password != "" {
		auth += ":" + n.cfg.Password
	}
	return fmt.Sprintf("postgresql://%s@%s/%s?sslmode=disable", auth, n.SQLAddr(), catalog.DefaultDatabase)
}

// Stop stops serving and closes the store. It is safe to call more than once.
func (n *Node) Stop() {
	n.once.Do(func() {
		if n.cancel != nil {
			n.cancel()
		}
		if n.wire != nil {
			_ = n.wire.Close()
		}
		if n.sqlLn != nil {
			_ = n.sqlLn.Close()
		}
		if n.http != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = n.http.Shutdown(ctx)
			cancel()
		} else if n.httpLn != nil {
			_ = n.httpLn.Close()
		}
		n.wg.Wait()
		if n.db != nil {
			n.db.Close()
		}
		if n.store != nil {
			if err := n.store.Close(); err != nil {
				n.log.Error("closing store", "err", err)
			}
		}
	})
}

func (n *Node) httpHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		ranges := len(n.store.Descriptors())
		_ = json.NewEncoder(w).Encode(map[string]any{
			"status": "ok", "node_id": 1, "sql_addr": n.SQLAddr(), "ranges": ranges,
			"sql_connections": n.wire.NumConnections(),
		})
	})
	return mux
}

// passwordAuth requires one shared password from every user.
type passwordAuth string

func (p passwordAuth) PasswordRequired(context.Context, string) (bool, error) { return true, nil }

func (p passwordAuth) CheckPassword(_ context.Context, user, password string) error {
	if subtle.ConstantTimeCompare([]byte(password), []byte(p)) != 1 {
		return fmt.Errorf("password authentication failed for user %q", user)
	}
	return nil
}
