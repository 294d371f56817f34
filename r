{
  "result": "error",
  "package-id": "",
  "status": "",
  "version": "",
  "revision": "",
  "artifact-path": "",
  "artifact-sha256": "",
  "artifact-size": null,
  "duration-seconds": 0.0,
  "reused": false,
  "exit-code": 2,
  "error": {
    "message": "Invalid configuration (6 problems): api-key is required: set MENDIX_API_KEY or pass --api-key; revision is required: set MENDIX_REVISION or pass --revision (or add it to the config file); MENDIX_VERSION is '\\ud573\\U0007893e\\U000b26ef\\xe7\\xedP'; expected major.minor.patch (for example 1.4.0), auto, auto-minor or auto-major; MENDIX_DOWNLOAD is '\\U0009fa63W\\x93\\xf7J'; expected true or false; MENDIX_TIMEOUT is '\\x15\\U0008d782\\x1b\\xd9\\xcd\\xc5hlgr\\xfb\\x12*\\xbe{3\\xcb\\u42...'; expected a duration such as 900, 90s, 15m or 1h; MENDIX_BASE_URL is '\\xe5\\xc6\\xc1\\U000543f6\\xcfu+~\\U0002ea2a:o;\\xcc\\n(\\xdd\\xd3...'; expected an https:// URL such as https://deploy.mendix.com",
    "fix": "correct the inputs named above",
    "docs": "the mendix-build README, section 'Inputs'"
  }
}
