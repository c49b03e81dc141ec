package agent

import (
	"context"
	"sync"
)

// lane is one lane's weighbridge reader.
type lane struct {
	id string
}

// startLanes starts a reader for every lane with a weighbridge.
func (a *Agent) startLanes(ctx context.Context, wg *sync.WaitGroup) []*lane {
	return nil
}

func (a *Agent) laneStatus() []any { return nil }
