// A type-level test: `pnpm typecheck` compiles it and nothing runs it. It has a program of its
// own (tsconfig.json here), since an augmentation is global to its program: in the main one it
// would make `tenant_id` required in every claims set of every other test.
import express from 'express';
import type { Claims } from '@jwt-guard/core';
import { jwtGuard, requireScope } from '@jwt-guard/express';

declare module '@jwt-guard/core' {
  interface AccessTokenClaims {
    tenant_id: string;
  }
}

type Equals<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

const app = express();
app.use(jwtGuard({ issuer: 'https://idp.example/', audience: 'https://api.example/' }));
app.get('/tenant', requireScope('read:items'), (req, res) => {
  // Exactly string: without the merge it would be `unknown`, from the claims' index signature.
  const merged: Equals<typeof req.auth.claims.tenant_id, string> = true;
  const registered: Equals<typeof req.auth.claims.iss, string> = true;
  // @ts-expect-error -- tenant_id is a string, not a number
  const wrong: number = req.auth.claims.tenant_id;
  res.json({ merged, registered, wrong, tenant: req.auth.claims.tenant_id.toUpperCase() });
});

// @ts-expect-error -- once merged, a claims set without tenant_id is not a Claims
export const incomplete: Claims = { iss: 'https://idp.example/' };
