// Command meridian is the one Meridian binary: it runs nodes and the tools around them.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
	// The IANA time zone database, so that SET TimeZone and AT TIME ZONE know zone names on
	// machines without system tzdata (containers, Windows).
	_ "time/tzdata"

	"github.com/spf13/cobra"

	"github.com/meridiandb/meridian/server"
	"github.com/meridiandb/meridian/server/gossip"
)

func main() {
	if err := rootCmd().Execute(); err != nil {
		os.Exit(1)
	}
}

func rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "meridian",
		Short:         "Meridian: a distributed, serializable SQL database that speaks PostgreSQL",
		SilenceUsage:  true,
		SilenceErrors: false,
	}
	root.PersistentFlags().Var(&logLevel, "log-level", "the least severe log messages written to stderr: debug, info, warn or error")
	root.AddCommand(demoCmd(), startSingleNodeCmd(), startCmd(), initCmd(), nodeCmd(), certCmd(), workloadCmd())
	return root
}

// logLevel is --log-level: warnings and errors unless asked for more.
var logLevel = levelFlag{slog.LevelWarn}

// levelFlag is a slog.Level as a command-line flag.
type levelFlag struct{ slog.Level }

func (l *levelFlag) Set(s string) error { return l.UnmarshalText([]byte(s)) }
func (l *levelFlag) Type() string       { return "level" }

func logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel.Level}))
}

func demoCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "demo",
		Short: "Run a throwaway single-node Meridian on a temporary store",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := os.MkdirTemp("", "meridian-demo-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			cfg := server.Config{
				StoreDir:   dir,
				ListenAddr: freeOr("127.0.0.1:26257"),
				HTTPAddr:   freeOr("127.0.0.1:8080"),
				Logger:     logger(),
			}
			return run(cmd, cfg, "temporary, deleted on exit")
		},
	}
}

func startSingleNodeCmd() *cobra.Command {
	cfg := server.Config{}
	cmd := &cobra.Command{
		Use:   "start-single-node",
		Short: "Run a single-node Meridian on a persistent store",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return runPersistent(cmd, cfg) },
	}
	nodeFlags(cmd, &cfg)
	return cmd
}

// nodeFlags registers the flags every node with a persistent store takes.
func nodeFlags(cmd *cobra.Command, cfg *server.Config) {
	f := cmd.Flags()
	f.StringVar(&cfg.StoreDir, "store", "meridian-data", "directory holding the node's data")
	f.StringVar(&cfg.ListenAddr, "listen-addr", "127.0.0.1:26257", "address for SQL clients, other nodes and gossip (its port on UDP too)")
	f.StringVar(&cfg.HTTPAddr, "http-addr", "127.0.0.1:8080", "address for the HTTP status endpoints (/health, /_status/...)")
	f.StringVar(&cfg.Password, "password", os.Getenv("MERIDIAN_PASSWORD"), "root's password; makes every SQL user authenticate (default $MERIDIAN_PASSWORD)")
	f.StringVar(&cfg.CertsDir, "certs-dir", "", "directory of the node's certificates (`meridian cert`): SQL clients must use TLS and authenticate")
	f.BoolVar(&cfg.Insecure, "insecure", false, "plain text, and users without a password need none (what a node without --certs-dir and --password does)")
	f.Var(&maxGoMemory, "max-go-memory", "soft limit of the Go heap, past which it is collected more often: bytes or a percentage of the machine's memory; default 25% plus --cache (GOMEMLIMIT, if set, wins)")
	f.Var(&cacheSize, "cache", "size of the store's block cache: bytes (512MiB, 2GB) or a percentage of the machine's memory (25%, a good choice for a machine of its own); default 128MiB")
	f.Var(&maxTempStorage, "max-disk-temp-storage", "most disk the node's statements hold at once in temporary files (sorts, joins and aggregations past statement_memory_limit), in the store's temp directory: bytes (32GiB); default 32GiB")
}

// maxTempStorage is the --max-disk-temp-storage flag.
var maxTempStorage diskSizeFlag

// cacheSize is the --cache flag. Unset, it is a small fixed size: several nodes may share a
// machine (three at 25% each, with their Go heaps, ran a 24 GiB machine out of memory).
var cacheSize sizeFlag

// maxGoMemory is the --max-go-memory flag (see tuneGC).
var maxGoMemory sizeFlag

// runPersistent runs a node on its store directory, creating it if needed.
func runPersistent(cmd *cobra.Command, cfg server.Config) error {
	if err := os.MkdirAll(cfg.StoreDir, 0o755); err != nil {
		return err
	}
	cfg.Logger = logger()
	cfg.CacheBytes = cacheSize.bytes          // 0: ranges' default
	cfg.MaxTempStorage = maxTempStorage.bytes // 0: sql's default
	return run(cmd, cfg, "persistent")
}

func startCmd() *cobra.Command {
	cfg := server.Config{}
	var join, locality, latency string
	cmd := &cobra.Command{
		Use:   "start",
		Short: "Run a node of a multi-node cluster",
		Long: `Run a node of a multi-node cluster. Start every node with --join listing some of
the cluster's nodes (the same list everywhere is simplest), then run ` + "`meridian init`" + `
once against one of them. A node that restarts, or joins a running cluster, needs no init.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, a := range strings.Split(join, ",") {
				if a = strings.TrimSpace(a); a != "" {
					cfg.Join = append(cfg.Join, a)
				}
			}
			if len(cfg.Join) == 0 {
				return fmt.Errorf("--join is required (use start-single-node for a node alone)")
			}
			if locality != "" {
				loc, err := gossip.ParseLocality(locality)
				if err != nil {
					return fmt.Errorf("--locality: %w", err)
				}
				cfg.Locality = loc
			}
			sim, err := simulatedLatency(latency, cfg.Locality)
			if err != nil {
				return fmt.Errorf("--simulated-latency: %w", err)
			}
			cfg.SimulatedLatency = sim
			return runPersistent(cmd, cfg)
		},
	}
	nodeFlags(cmd, &cfg)
	f := cmd.Flags()
	f.StringVar(&cfg.AdvertiseAddr, "advertise-addr", "", "address other nodes use to reach this one (default: --listen-addr)")
	f.StringVar(&join, "join", "", "comma-separated addresses of nodes of the cluster")
	f.StringVar(&locality, "locality", "", "where the node is, e.g. region=us-east1,zone=a")
	f.StringVar(&latency, "simulated-latency", "", "for demos and tests on one machine only: one-way delay added to this node's messages to and from nodes of other regions (by --locality's region), symmetric, e.g. us-east1:us-west1=35ms,us-east1:europe-west1=45ms; same region and unlisted pairs: none")
	f.DurationVar(&cfg.TimeUntilStoreDead, "time-until-store-dead", 0, "how long a node may be unreachable before its replicas are replaced (server.time_until_store_dead; default 5m)")
	f.IntVar(&cfg.ReplicationFactor, "replicas", 0, "replicas per range (default 3)")
	f.Int64Var(&cfg.RangeMaxBytes, "range-max-bytes", 0, "size above which a range splits (default 64 MiB)")
	return cmd
}

func initCmd() *cobra.Command {
	var host string
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Initialize a new cluster through one of its waiting nodes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			clusterID, nodeID, err := server.InitCluster(ctx, host)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Cluster %s initialized; %s is node %d.\n", clusterID, host, nodeID)
			return nil
		},
	}
	cmd.Flags().StringVar(&host, "host", "127.0.0.1:26257", "address of a node started with --join")
	return cmd
}

func nodeCmd() *cobra.Command {
	node := &cobra.Command{Use: "node", Short: "Inspect the cluster's nodes"}
	var host string
	status := &cobra.Command{
		Use:   "status",
		Short: "List the cluster's nodes: id, address, locality, liveness, ranges, leases",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			st, err := server.NodeStatusAt(ctx, host)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 2, 4, 2, ' ', 0)
			fmt.Fprintln(w, "id\taddress\tlocality\tliveness\tepoch\tranges\tleases")
			for _, m := range st.Members {
				ranges, leases := "?", "?"
				if m.Liveness == "live" || m.Liveness == "draining" {
					if ms, err := server.NodeStatusAt(ctx, m.Addr); err == nil {
						ranges, leases = fmt.Sprint(ms.Ranges), fmt.Sprint(ms.Leases)
					}
				}
				fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%d\t%s\t%s\n", m.NodeID, m.Addr, gossip.FormatLocality(m.Locality), m.Liveness, m.Epoch, ranges, leases)
			}
			return w.Flush()
		},
	}
	status.Flags().StringVar(&host, "host", "127.0.0.1:26257", "address of any node of the cluster")
	var wait time.Duration
	decommission := &cobra.Command{
		Use:   "decommission NODE-ID",
		Short: "Drain a node: move its leases and replicas to other nodes, and wait until it holds none",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseUint(args[0], 10, 64)
			if err != nil || id == 0 {
				return fmt.Errorf("%q is not a node ID", args[0])
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), wait)
			defer cancel()
			out := cmd.OutOrStdout()
			last := -1
			for {
				st, err := server.Decommission(ctx, host, id)
				if err != nil {
					return err
				}
				if st.Replicas != last {
					fmt.Fprintf(out, "n%d: %d replicas, %d leases left\n", id, st.Replicas, st.Leases)
					last = st.Replicas
				}
				if st.Replicas == 0 {
					fmt.Fprintf(out, "n%d is drained; it can be stopped.\n", id)
					return nil
				}
				select {
				case <-ctx.Done():
					return fmt.Errorf("n%d still holds %d replicas after %s", id, st.Replicas, wait)
				case <-time.After(time.Second):
				}
			}
		},
	}
	decommission.Flags().StringVar(&host, "host", "127.0.0.1:26257", "address of any node of the cluster")
	decommission.Flags().DurationVar(&wait, "wait", 10*time.Minute, "how long to wait for the node to drain")
	node.AddCommand(status, decommission)
	return node
}

// run starts a node and serves until SIGINT or SIGTERM.
func run(cmd *cobra.Command, cfg server.Config, storeKind string) error {
	tuneGC(maxGoMemory.bytes, cfg.CacheBytes)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	n, err := server.Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer n.Stop()
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "Meridian is running.\n")
	switch {
	case cfg.CertsDir != "":
		fmt.Fprintf(out, "security: TLS with the certificates in %s; every user authenticates\n", cfg.CertsDir)
	case cfg.Password != "":
		fmt.Fprintf(out, "security: plain text; every user authenticates (root with --password)\n")
	default:
		fmt.Fprintf(out, "security: insecure (plain text; users without a password need none)\n")
	}
	fmt.Fprintf(out, "sql:   %s\n", n.SQLURL("root"))
	if a := n.HTTPAddr(); a != "" {
		fmt.Fprintf(out, "http:  http://%s/health\n", a)
	}
	fmt.Fprintf(out, "store: %s (%s)\n", cfg.StoreDir, storeKind)
	fmt.Fprintf(out, "Connect with: psql %q\nPress Ctrl-C to stop.\n", n.SQLURL("root"))
	select {
	case <-n.Ready():
	default:
		fmt.Fprintf(out, "Waiting to join the cluster (or for `meridian init --host %s`).\n", n.SQLAddr())
		select {
		case <-n.Ready():
		case <-ctx.Done():
		}
	}
	if n.NodeID() != 0 {
		fmt.Fprintf(out, "node: n%d ready\n", n.NodeID())
	}
	<-ctx.Done()
	fmt.Fprintln(out, "Shutting down.")
	return nil
}

// freeOr returns addr if it can be bound now, else the same host with a free port, so that a
// demo starts even when the usual ports are taken.
func freeOr(addr string) string {
	ln, err := net.Listen("tcp", addr)
	if err == nil {
		ln.Close()
		return addr
	}
	host, _, _ := net.SplitHostPort(addr)
	return net.JoinHostPort(host, "0")
}

// tuneGC lets the Go heap grow to three times its live size between collections (GOGC=200)
// instead of twice, which cut the collector's share of a node's CPU under TPC-C from about
// 7% to 3% (docs/benchmarks.md); a node's live heap is small next to its block cache, which
// Pebble keeps outside it. A soft limit (limit bytes, or by default a quarter of
// the machine's memory plus the cache, in case the cache is on the heap) has the collector
// work harder rather than let the heap outgrow it. GOGC and GOMEMLIMIT in the environment
// win.
func tuneGC(limit, cacheBytes int64) {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(200)
	}
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	if limit == 0 {
		if mem := physicalMemory(); mem > 0 {
			limit = mem/4 + cacheBytes
		}
	}
	if limit > 0 {
		debug.SetMemoryLimit(limit)
	}
}
