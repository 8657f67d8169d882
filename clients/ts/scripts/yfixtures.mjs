// Writes the fixtures of the Go package internal/yupdate: editing sessions
// recorded with real yjs (every update each peer made, and the document they
// converged to). Run from clients/ts: node scripts/yfixtures.mjs
import * as Y from 'yjs'
import { writeFileSync } from 'node:fs'

let seed = 7
const rand = (n) => { // mulberry32
  seed = (seed + 0x6D2B79F5) | 0
  let x = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
  return ((x ^ (x >>> 14)) >>> 0) % n
}
const words = ['a', 'bc', 'def', ' ', '😀', 'é', 'x😀y', '\n']

function session (name, peers, steps, edit) {
  const docs = Array.from({ length: peers }, (_, i) => { const d = new Y.Doc(); d.clientID = 1000 + i * 7919; return d })
  const updates = []
  for (const d of docs) d.on('update', (u, origin) => { if (origin !== 'remote') updates.push(Buffer.from(u).toString('base64')) })
  for (let s = 0; s < steps; s++) {
    const d = docs[rand(peers)]
    d.transact(() => edit(d))
    if (rand(10) === 0) { // two peers sync
      const a = docs[rand(peers)]; const b = docs[rand(peers)]
      Y.applyUpdate(b, Y.encodeStateAsUpdate(a, Y.encodeStateVector(b)), 'remote')
      Y.applyUpdate(a, Y.encodeStateAsUpdate(b, Y.encodeStateVector(a)), 'remote')
    }
  }
  for (const a of docs) for (const b of docs) Y.applyUpdate(b, Y.encodeStateAsUpdate(a, Y.encodeStateVector(b)), 'remote')
  const final = docs[0]
  const sv = {}
  for (const [c, clock] of Y.decodeStateVector(Y.encodeStateVector(final))) sv[c] = clock
  writeFileSync(`../../internal/yupdate/testdata/${name}.json`, JSON.stringify({
    updates, stateVector: sv, docBytes: Y.encodeStateAsUpdate(final).length, text: final.getText('t').toString()
  }, null, 1) + '\n')
  console.log(name, updates.length, 'updates; the document encodes to', Y.encodeStateAsUpdate(final).length, 'bytes')
}

session('typing', 1, 3000, (d) => {
  const t = d.getText('t')
  if (rand(8) === 0 && t.length > 0) t.delete(t.length - 1, 1)
  else t.insert(t.length, 'abcdefgh'[rand(8)])
})

session('concurrent', 3, 3000, (d) => {
  const t = d.getText('t')
  const r = rand(20)
  if (r < 10 || t.length === 0) t.insert(rand(t.length + 1), words[rand(words.length)])
  else if (r < 14) t.delete(rand(t.length), Math.min(1 + rand(4), t.length))
  else if (r < 15) t.format(rand(t.length), 1 + rand(3), { bold: rand(2) === 0 ? true : null })
  else if (r < 16) t.insertEmbed(rand(t.length + 1), { image: 'x.png' })
  else if (r < 17) d.getMap('m').set('k' + rand(5), rand(3) === 0 ? new Y.Map() : [rand(100), 'v', null, 1.5, true, { o: [1] }, new Uint8Array([1, 2])])
  else if (r < 18) { const a = d.getArray('a'); if (a.length > 2 && rand(2)) a.delete(rand(a.length), 1); else a.insert(rand(a.length + 1), [rand(9), 'w' + rand(9)]) }
  else if (r < 19) d.getXmlFragment('x').insert(0, [new Y.XmlElement('p'), new Y.XmlText('hi')])
  else d.getMap('m').delete('k' + rand(5))
})
