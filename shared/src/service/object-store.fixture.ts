/**
 * Tests' S3-compatible server: s3rver (npm), a real HTTP server speaking the S3 REST API and
 * storing objects in a directory, started on a loopback port with one bucket. It stands in for
 * MinIO or AWS S3, which cannot run here; requests go through the same SDK client, signing and
 * HTTP as in production. Not for production use.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';

export interface TestS3 {
  endpoint: string;
  bucket: string;
  /** Environment for a child process (credentials s3rver accepts). */
  env: Record<string, string>;
  close(): Promise<void>;
}

export async function startTestS3(bucket = 'cleanroom-test'): Promise<TestS3> {
  const dir = mkdtempSync(join(tmpdir(), 'cleanroom-s3-'));
  const server = new S3rver({ port: 0, address: '127.0.0.1', directory: dir, silent: true, configureBuckets: [{ name: bucket, configs: [] }] });
  const { port } = (await server.run()) as unknown as { port: number };
  // s3rver accepts its own fixed credentials
  const creds = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' };
  Object.assign(process.env, creds);
  return {
    endpoint: `http://127.0.0.1:${port}`, bucket, env: creds,
    close: async () => {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
