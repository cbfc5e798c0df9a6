// pm2: 4 instances in cluster mode, all logging to ONE file through timberlock.
// Start: pm2 start examples/pm2/ecosystem.config.cjs    Stop: pm2 stop api
module.exports = {
  apps: [
    {
      name: 'api',
      script: 'app.cjs',
      cwd: __dirname,
      instances: 4,
      exec_mode: 'cluster',
      // pm2 stops an instance with SIGINT and SIGKILLs it after kill_timeout ms: leave time to flush.
      // logger.end() waits at most fallbackMs (7 s by default) for a rotation under way or a full disk.
      kill_timeout: 10000,
      // A reload stops an old instance once its new one is ready. This app listens on no port, so it
      // tells pm2 with process.send('ready'); pm2 waits for that at most listen_timeout ms.
      wait_ready: true,
      listen_timeout: 10000,
      // Relative to cwd: examples/pm2/logs/app.log. Change it here: pm2 prefers this env to the shell's.
      env: { LOG_PATH: 'logs/app.log' },
    },
  ],
};
