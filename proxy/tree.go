package proxy

import "hash/maphash"

// tree is an immutable sorted map from string keys to values: a treap
// whose updates copy only the path to what they change, so that a new
// version costs O(log n) and every older one stays valid for whoever
// still reads it. The catalogue's snapshots are built from trees, so that
// an upstream's new catalogue costs what it changes, however many others
// there are, and readers never wait for a writer. The zero tree is empty.
type tree[V any] struct{ root *node[V] }

type node[V any] struct {
	key         string
	val         V
	prio        uint64 // heap order: a parent's is at least its children's
	size        int
	left, right *node[V]
}

// treeSeed gives every key a fixed random priority for the process's
// life, which keeps the treap balanced whatever the keys.
var treeSeed = maphash.MakeSeed()

func (n *node[V]) len() int {
	if n == nil {
		return 0
	}
	return n.size
}

// with returns a copy of n with other children.
func (n *node[V]) with(left, right *node[V]) *node[V] {
	c := *n
	c.left, c.right = left, right
	c.size = 1 + left.len() + right.len()
	return &c
}

// Len returns the number of keys.
func (t tree[V]) Len() int { return t.root.len() }

// Get returns the value of key.
func (t tree[V]) Get(key string) (V, bool) {
	for n := t.root; n != nil; {
		switch {
		case key < n.key:
			n = n.left
		case key > n.key:
			n = n.right
		default:
			return n.val, true
		}
	}
	var zero V
	return zero, false
}

// Set returns the tree with key set to val.
func (t tree[V]) Set(key string, val V) tree[V] {
	return tree[V]{set(t.root, key, val, maphash.String(treeSeed, key))}
}

func set[V any](n *node[V], key string, val V, prio uint64) *node[V] {
	switch {
	case n == nil:
		return &node[V]{key: key, val: val, prio: prio, size: 1}
	case key == n.key:
		c := *n
		c.val = val
		return &c
	case prio > n.prio:
		// key is not below n: its priority would be n's at most.
		l, r := split(n, key)
		return (&node[V]{key: key, val: val, prio: prio}).with(l, r)
	}
	if key < n.key {
		return n.with(set(n.left, key, val, prio), n.right)
	}
	return n.with(n.left, set(n.right, key, val, prio))
}

// split divides n into the keys before key and those after it; key itself
// is not in n.
func split[V any](n *node[V], key string) (before, after *node[V]) {
	if n == nil {
		return nil, nil
	}
	if key < n.key {
		l, r := split(n.left, key)
		return l, n.with(r, n.right)
	}
	l, r := split(n.right, key)
	return n.with(n.left, l), r
}

// Delete returns the tree without key.
func (t tree[V]) Delete(key string) tree[V] {
	if _, ok := t.Get(key); !ok {
		return t
	}
	return tree[V]{del(t.root, key)}
}

func del[V any](n *node[V], key string) *node[V] {
	switch {
	case key < n.key:
		return n.with(del(n.left, key), n.right)
	case key > n.key:
		return n.with(n.left, del(n.right, key))
	}
	return join(n.left, n.right)
}

// join joins two treaps, every key of a before every key of b.
func join[V any](a, b *node[V]) *node[V] {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	case a.prio > b.prio:
		return a.with(a.left, join(a.right, b))
	}
	return b.with(join(a, b.left), b.right)
}

// All calls f with each key and its value, in order, until f returns
// false.
func (t tree[V]) All(f func(key string, val V) bool) {
	ascend(t.root, "", false, f)
}

// After calls f with each key after from and its value, in order, until f
// returns false.
func (t tree[V]) After(from string, f func(key string, val V) bool) {
	ascend(t.root, from, true, f)
}

func ascend[V any](n *node[V], from string, bounded bool, f func(string, V) bool) bool {
	if n == nil {
		return true
	}
	if !bounded || n.key > from {
		if !ascend(n.left, from, bounded, f) || !f(n.key, n.val) {
			return false
		}
	}
	return ascend(n.right, from, bounded, f)
}
