package sql

import "testing"

// IndexBuildStage and its values name the stages of an online index build to tests.
type IndexBuildStage = indexBuildStage

// The stages at which the build's testing hook runs.
const (
	IndexStageWriteOnly    = stageWriteOnly
	IndexStageChunkDone    = stageChunkDone
	IndexStageBackfillDone = stageBackfillDone
)

// ErrAbandonIndexBuild, returned by the hook, stops a build as if its node had died.
var ErrAbandonIndexBuild = errAbandonBuild

// SetIndexBuildHook runs f (nil: nothing) at each stage of the online index builds of the
// test's nodes, until the test ends.
func SetIndexBuildHook(t testing.TB, f func(stage IndexBuildStage, tableID, indexID uint32) error) {
	if f == nil {
		testingIndexBuildHook.Store(nil)
		return
	}
	h := indexBuildHook(f)
	testingIndexBuildHook.Store(&h)
	t.Cleanup(func() { testingIndexBuildHook.Store(nil) })
}
