// Validates recsd's Kubernetes manifests offline: each kustomization's resources, generators and
// patches exist; each resource, and each patched resource, validates against the Kubernetes API
// schema (kubernetes-models). Usage: node validate-k8s.mjs DIR... (directories holding a
// kustomization.yaml). Exit 1 with one line per problem.
import fs from "node:fs";
import path from "node:path";
import yaml from "js-yaml";

const problems = [];
const problem = (where, what) => problems.push(`${where}: ${what}`);

async function modelOf(doc) {
  const [group, version] = doc.apiVersion.includes("/")
    ? doc.apiVersion.split("/")
    : [null, doc.apiVersion];
  const module = group ? `kubernetes-models/${group}/${version}/${doc.kind}` : `kubernetes-models/${version}/${doc.kind}`;
  try {
    return (await import(module))[doc.kind];
  } catch {
    return null;
  }
}

// Strategic merge of a patch into a resource: maps merge, lists of named objects merge by name,
// other values are replaced (enough for recsd's patches).
function merge(base, patch) {
  if (Array.isArray(base) && Array.isArray(patch) && patch.every((p) => p && p.name)) {
    const out = base.map((b) => ({ ...b }));
    for (const p of patch) {
      const i = out.findIndex((b) => b.name === p.name);
      if (i >= 0) out[i] = merge(out[i], p);
      else out.push(p);
    }
    return out;
  }
  if (base && patch && typeof base === "object" && typeof patch === "object" && !Array.isArray(patch)) {
    const out = { ...base };
    for (const [k, v] of Object.entries(patch)) out[k] = k in base ? merge(base[k], v) : v;
    return out;
  }
  return patch;
}

async function validate(doc, where) {
  if (!doc || !doc.apiVersion || !doc.kind) {
    problem(where, "not a Kubernetes object (apiVersion and kind are required)");
    return;
  }
  const Model = await modelOf(doc);
  if (!Model) {
    problem(where, `unknown kind ${doc.apiVersion} ${doc.kind}`);
    return;
  }
  try {
    new Model(doc).validate();
  } catch (e) {
    problem(where, `${doc.kind} ${doc.metadata?.name}: ${e.message}`);
  }
}

// The resources a kustomization directory produces (before patches of the directory itself).
async function build(dir) {
  const file = path.join(dir, "kustomization.yaml");
  if (!fs.existsSync(file)) {
    problem(dir, "no kustomization.yaml");
    return [];
  }
  const k = yaml.load(fs.readFileSync(file, "utf8"));
  let objects = [];
  for (const r of k.resources ?? []) {
    const p = path.join(dir, r);
    if (!fs.existsSync(p)) {
      problem(file, `resource ${r} does not exist`);
    } else if (fs.statSync(p).isDirectory()) {
      objects = objects.concat(await build(p));
    } else {
      for (const doc of yaml.loadAll(fs.readFileSync(p, "utf8"))) {
        if (doc) objects.push({ doc, where: p });
      }
    }
  }
  for (const g of k.configMapGenerator ?? []) {
    for (const f of g.files ?? []) {
      if (!fs.existsSync(path.join(dir, f))) problem(file, `configMapGenerator ${g.name}: ${f} does not exist`);
    }
  }
  for (const p of k.patches ?? []) {
    const pf = path.join(dir, p.path);
    if (!fs.existsSync(pf)) {
      problem(file, `patch ${p.path} does not exist`);
      continue;
    }
    const patch = yaml.load(fs.readFileSync(pf, "utf8"));
    const target = objects.find((o) => o.doc.kind === patch.kind && o.doc.metadata?.name === patch.metadata?.name);
    if (!target) {
      problem(pf, `patches ${patch.kind} ${patch.metadata?.name}, which the kustomization does not have`);
      continue;
    }
    target.doc = merge(target.doc, patch);
    target.where = `${target.where} + ${pf}`;
  }
  return objects;
}

const dirs = process.argv.slice(2);
if (dirs.length === 0) {
  console.error("usage: node validate-k8s.mjs DIR...");
  process.exit(2);
}
let count = 0;
for (const dir of dirs) {
  for (const { doc, where } of await build(dir)) {
    await validate(doc, where);
    ++count;
  }
}
if (problems.length > 0) {
  for (const p of problems) console.error(p);
  process.exit(1);
}
console.log(`validate-k8s: ${count} object(s) valid in ${dirs.join(", ")}`);
