package sql

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/meridiandb/meridian/ranges/keys"
	"github.com/meridiandb/meridian/sql/parser"
	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/types"
	"github.com/meridiandb/meridian/txn"
)

// Cluster settings hold for every node. SET CLUSTER SETTING writes one into the system span
// in the statement's transaction; nodes read them every few seconds (see server), so a
// change takes effect cluster-wide within that time. A setting never set has its default,
// which a node's own flag can override.
type clusterSetting struct {
	def   string
	check func(string) error
}

// ClusterSettings names the settings and their defaults.
var clusterSettings = map[string]clusterSetting{
	// kv.range_max_bytes is the size above which a range splits.
	"kv.range_max_bytes": {def: strconv.Itoa(64 << 20), check: func(v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 64<<10 {
			return fmt.Errorf("must be a number of bytes, at least %d", 64<<10)
		}
		return nil
	}},
	// kv.range_merge.queue_enabled lets small, cold neighbouring ranges merge.
	"kv.range_merge.queue_enabled": {def: "true", check: func(v string) error {
		if _, err := strconv.ParseBool(v); err != nil {
			return fmt.Errorf("must be true or false")
		}
		return nil
	}},
	// kv.transaction.parallel_commits_enabled lets a transaction commit in the same round
	// of consensus as its last writes (STAGING records); off, the commit waits for them.
	"kv.transaction.parallel_commits_enabled": {def: "true", check: func(v string) error {
		if _, err := strconv.ParseBool(v); err != nil {
			return fmt.Errorf("must be true or false")
		}
		return nil
	}},
	// kv.transaction.write_pipelining_enabled lets a transaction's writes be answered before
	// they are replicated, proven later; off, each write waits for its round of consensus.
	"kv.transaction.write_pipelining_enabled": {def: "true", check: func(v string) error {
		if _, err := strconv.ParseBool(v); err != nil {
			return fmt.Errorf("must be true or false")
		}
		return nil
	}},
	// kv.transaction.write_buffering_enabled keeps a transaction's blind writes (those of
	// UPDATE and DELETE) on its gateway until the commit, which sends them with the commit's
	// batches; off, each statement's writes go to their ranges at once.
	"kv.transaction.write_buffering_enabled": {def: "true", check: func(v string) error {
		if _, err := strconv.ParseBool(v); err != nil {
			return fmt.Errorf("must be true or false")
		}
		return nil
	}},
	// server.time_until_store_dead is how long a node may be unreachable before its
	// replicas are replaced elsewhere.
	"server.time_until_store_dead": {def: (5 * time.Minute).String(), check: func(v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second {
			return fmt.Errorf("must be a duration of at least 1s, like 5m0s")
		}
		return nil
	}},
}

// ReadClusterSettings returns the cluster settings that have been set, by name.
func ReadClusterSettings(ctx context.Context, t *txn.Txn) (map[string]string, error) {
	var b txn.Batch
	b.Scan(keys.ClusterSettingPrefix, keys.PrefixEnd(keys.ClusterSettingPrefix), 0, false)
	if err := t.Run(ctx, &b); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, kv := range b.Results[0].Rows {
		out[string(kv.Key[len(keys.ClusterSettingPrefix):])] = string(kv.Value)
	}
	return out, nil
}

// clusterSettingPlan runs SET CLUSTER SETTING.
type clusterSettingPlan struct {
	noSchemaChange
	name  string
	value string // "" resets to the default
}

func (p *clusterSettingPlan) columns() []resultColumn { return nil }

func (p *clusterSettingPlan) run(ctx context.Context, x *execCtx) (*result, error) {
	if err := x.session.requireSuperuser("change cluster settings"); err != nil {
		return nil, err
	}
	var b txn.Batch
	if p.value == "" {
		b.Del(keys.ClusterSettingKey(p.name))
	} else {
		b.Put(keys.ClusterSettingKey(p.name), []byte(p.value))
	}
	if err := x.write(ctx, &b); err != nil {
		return nil, err
	}
	return &result{tag: "SET CLUSTER SETTING"}, nil
}

func planClusterSetting(v *ast.VariableAssignment) (plan, error) {
	name := v.Name
	setting, ok := clusterSettings[name]
	if !ok {
		return nil, pgerror.New(pgerror.CodeUndefinedObject, "unknown cluster setting %q", name)
	}
	p := &clusterSettingPlan{name: name}
	switch e := v.Value.(type) {
	case *parser.Value:
		p.value = e.GetString()
	case *ast.DefaultExpr:
	default:
		if v.Value != nil {
			return nil, pgerror.New(pgerror.CodeInvalidParameterValue, "invalid value for cluster setting %q", name)
		}
	}
	if p.value != "" {
		if err := setting.check(p.value); err != nil {
			return nil, pgerror.New(pgerror.CodeInvalidParameterValue, "invalid value %q for cluster setting %q: %v", p.value, name, err)
		}
	}
	return p, nil
}

// planShowClusterSetting answers SHOW CLUSTER SETTING name.
func (s *Session) planShowClusterSetting(name string) (plan, error) {
	setting, ok := clusterSettings[name]
	if !ok {
		return nil, pgerror.New(pgerror.CodeUndefinedObject, "unknown cluster setting %q", name)
	}
	return &showPlan{cols: textColumns(name), rows: func(ctx context.Context, x *execCtx) ([][]types.Datum, error) {
		set, err := ReadClusterSettings(ctx, x.txn)
		if err != nil {
			return nil, err
		}
		v, ok := set[name]
		if !ok {
			v = setting.def
		}
		return [][]types.Datum{{v}}, nil
	}}, nil
}
