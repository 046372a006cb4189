package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/meridiandb/meridian/workload"
	"github.com/meridiandb/meridian/workload/bank"
	"github.com/meridiandb/meridian/workload/kv"
)

// workloads are the workloads of `meridian workload`, by constructor: each subcommand makes
// its own, whose flags it parses.
var workloads = []func() workload.Workload{
	kv.New,
	bank.New,
	newTPCC,
}

func workloadCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "workload",
		Short: "Load, run and check benchmark workloads against Meridian or PostgreSQL",
		Long: `Load, run and check benchmark workloads. Every workload runs unchanged against
Meridian and PostgreSQL: give the same kind of URL (postgresql://user@host:port/db), or several
URLs to spread the connections over (the nodes of a cluster). See docs/workload.md.`,
	}
	initGroup := &cobra.Command{Use: "init", Short: "Create and load a workload's tables"}
	runGroup := &cobra.Command{Use: "run", Short: "Run a workload and report throughput and latencies"}
	checkGroup := &cobra.Command{Use: "check", Short: "Check a workload's data for consistency; exits non-zero on a violation"}
	for _, mk := range workloads {
		initGroup.AddCommand(workloadInitCmd(mk()))
		runGroup.AddCommand(workloadRunCmd(mk()))
		checkGroup.AddCommand(workloadCheckCmd(mk()))
	}
	cmd.AddCommand(initGroup, runGroup, checkGroup)
	return cmd
}

// workloadSubcommand is the command of one workload under init, run or check, with the
// workload's own flags.
func workloadSubcommand(w workload.Workload, short string, run func(cmd *cobra.Command, urls []string) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   w.Name() + " [flags] PG-URL...",
		Short: short + ": " + w.Description(),
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := w.Validate(); err != nil {
				return err
			}
			// A script may pass a cluster's URLs as one space-separated argument.
			var urls []string
			for _, a := range args {
				urls = append(urls, strings.Fields(a)...)
			}
			return run(cmd, urls)
		},
	}
	cmd.Flags().AddFlagSet(w.Flags())
	return cmd
}

func workloadInitCmd(w workload.Workload) *cobra.Command {
	var opts workload.InitOptions
	cmd := workloadSubcommand(w, "Create and load "+w.Name(), func(cmd *cobra.Command, urls []string) error {
		ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		pools, err := workload.Connect(ctx, urls[:1], max(opts.Concurrency, 1), 0)
		if err != nil {
			return err
		}
		defer closePools(pools)
		out := cmd.OutOrStdout()
		start := time.Now()
		progress := workload.NewProgress(out, isTerminal(out))
		err = w.Init(ctx, pools[0], opts, progress.Update)
		progress.Finish()
		if err != nil {
			return fmt.Errorf("init %s: %w", w.Name(), err)
		}
		fmt.Fprintf(out, "%s loaded in %s\n", w.Name(), time.Since(start).Round(100*time.Millisecond))
		return nil
	})
	f := cmd.Flags()
	f.BoolVar(&opts.Drop, "drop", false, "drop the workload's tables first, for a clean start (otherwise init resumes a load)")
	f.IntVar(&opts.Concurrency, "concurrency", 4, "connections loading at once")
	return cmd
}

func workloadRunCmd(w workload.Workload) *cobra.Command {
	var (
		opts       workload.RunOptions
		jsonOut    bool
		histograms string
	)
	waitDefault := false
	if wt, ok := w.(workload.Waiter); ok {
		waitDefault = wt.WaitByDefault()
	}
	cmd := workloadSubcommand(w, "Run "+w.Name(), func(cmd *cobra.Command, urls []string) error {
		ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		if !cmd.Flags().Changed("workers") {
			opts.Workers = w.Workers(opts.Wait)
		}
		if opts.Workers < 1 {
			return fmt.Errorf("--workers must be at least 1")
		}
		extra := 0
		if m, ok := w.(workload.Monitor); ok {
			extra = len(m.Monitors())
		}
		pools, err := workload.Connect(ctx, urls, opts.Workers, extra)
		if err != nil {
			return err
		}
		defer closePools(pools)
		out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
		// With --json, stdout holds the one JSON object and nothing else.
		opts.Live, opts.Errors = out, errOut
		if jsonOut {
			opts.Live = errOut
		}
		if histograms != "" {
			f, err := os.Create(histograms)
			if err != nil {
				return err
			}
			defer f.Close()
			bw := bufio.NewWriterSize(f, 1<<20)
			defer bw.Flush()
			opts.Histograms = bw
		}
		res, runErr := workload.Run(ctx, w, pools, opts)
		if res != nil {
			var err error
			if jsonOut {
				err = res.WriteJSON(out)
			} else {
				err = res.WriteText(out)
			}
			if err != nil && runErr == nil {
				runErr = err
			}
		}
		if runErr != nil {
			return fmt.Errorf("run %s: %w", w.Name(), runErr)
		}
		return nil
	})
	f := cmd.Flags()
	f.DurationVar(&opts.Duration, "duration", time.Minute, "how long to measure (after --ramp); 0 runs until --max-ops or Ctrl-C")
	f.Int64Var(&opts.MaxOps, "max-ops", 0, "stop after this many ops (0: no limit)")
	f.IntVar(&opts.Workers, "workers", 0, "concurrent workers, one connection each (default: the workload's)")
	f.BoolVar(&opts.Wait, "wait", waitDefault, "wait each op's keying and think times (workloads that have them)")
	f.DurationVar(&opts.Ramp, "ramp", 0, "start the workers gradually over this long before measuring")
	f.Int64Var(&opts.Seed, "seed", 1, "seed of the workers' random choices")
	f.BoolVar(&opts.TolerateErrors, "tolerate-errors", false, "count errors and keep going instead of stopping at the first")
	f.BoolVar(&jsonOut, "json", false, "print the final report as one JSON object (live lines go to stderr)")
	f.StringVar(&histograms, "histograms", "", "write every op's latency to this CSV file (op,start_unix_nanos,latency_micros,retries,error)")
	return cmd
}

func workloadCheckCmd(w workload.Workload) *cobra.Command {
	return workloadSubcommand(w, "Check "+w.Name(), func(cmd *cobra.Command, urls []string) error {
		ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		pools, err := workload.Connect(ctx, urls[:1], 1, 0)
		if err != nil {
			return err
		}
		defer closePools(pools)
		if err := w.Check(ctx, pools[0]); err != nil {
			return fmt.Errorf("check %s: %w", w.Name(), err)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "%s: consistent\n", w.Name())
		return nil
	})
}

func closePools(pools []*pgxpool.Pool) {
	for _, p := range pools {
		p.Close()
	}
}

// isTerminal reports whether w is a terminal, where a progress line can redraw itself.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
